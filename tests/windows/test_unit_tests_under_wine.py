"""The cross-built unit tests (dozor_windows_tests.exe: the shared library's and the Windows
collectors' suites, the agent core's) under Wine, in a fresh prefix; the service's event log lines
as ReportEventW receives them; and the agent .exe needs no DLL that is not part of Windows."""
import os
import re
import subprocess
import tempfile

from harness import check, log
from wine import AGENT_EXE, WINDOWS_BUILD_DIR, WinePrefix

TESTS_EXE = os.path.join(WINDOWS_BUILD_DIR, "tests", "dozor_windows_tests.exe")


def imported_dlls(exe):
    out = subprocess.run(["x86_64-w64-mingw32-objdump", "-p", exe], capture_output=True, text=True,
                         check=True).stdout
    return sorted(set(re.findall(r"^\tDLL Name: (\S+)$", out, re.M)))


def main():
    for exe in (AGENT_EXE, TESTS_EXE):
        check(os.path.isfile(exe), f"missing {exe} (DOZOR_WINDOWS_BUILD_DIR)")
    dlls = imported_dlls(AGENT_EXE)
    log(f"dozor-agent.exe: {os.path.getsize(AGENT_EXE)} bytes; imports {' '.join(dlls)}")
    foreign = [d for d in dlls if re.match(r"(?i)(lib.*|zlib1|cygwin1|msys-.*)\.dll$", d)]
    check(not foreign, f"the agent needs DLLs that are not part of Windows: {foreign}")
    workdir = tempfile.mkdtemp(prefix="dozor-wine-unit-")
    wine = WinePrefix(workdir)
    try:
        result = wine.run(TESTS_EXE, timeout=900)
        log(result.stdout[-4000:])
        log(result.stderr[-4000:])
        check(result.returncode == 0, f"dozor_windows_tests.exe exited {result.returncode}")
        summary = re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", result.stdout)
        check(summary and int(summary.group(1)) > 0 and summary.group(3) == "0",
              "a doctest summary with every case passed")
        # The service's event log sink: Wine keeps no event log, but its eventlog debug channel
        # prints what ReportEventW was given, as a warning or an error line by the event's type,
        # the text as UTF-16 escapes (so the Cyrillic went in as UTF-16, not the ANSI code page).
        result = wine.run(TESTS_EXE, "-tc=*system log sink*", timeout=300, wine_debug="+eventlog")
        events = [line for line in result.stderr.splitlines() if ":eventlog:ReportEventW" in line]
        log("\n".join(events))
        check(result.returncode == 0, f"the system log case failed: {result.stdout[-2000:]}")
        check(any(line.split(":", 1)[-1].startswith('warn:eventlog:ReportEventW L"dozor system log test: '
                                                    'warning \\043f\\0440\\0435\\0434\\0443\\043f"')
                  for line in events), "the warning reached the event log as a warning event, in UTF-16")
        check(any(line.split(":", 1)[-1].startswith('err:eventlog:ReportEventW L"dozor system log test: '
                                                    'error \\043e\\0448\\0438\\0431\\043a\\0430"')
                  for line in events), "the error reached the event log as an error event")
        check(not any("not for the event log" in line for line in events),
              "information lines stay out of the event log")
    finally:
        wine.close()
    log("PASS")


main()
