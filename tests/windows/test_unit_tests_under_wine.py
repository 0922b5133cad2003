"""The cross-built unit tests (dozor_windows_tests.exe: the shared library's and the Windows
collectors' suites, the agent core's) under Wine, in a fresh prefix; and the agent .exe needs no
DLL that is not part of Windows."""
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
    finally:
        wine.close()
    log("PASS")


main()
