"""Running the cross-built Windows agent under Wine for the Windows tests: a fresh Wine prefix per
test (set up once, 20-40 s), Linux paths as Wine sees them (drive Z: is the host's /), and every
Wine process of the prefix ended at the end."""
import os
import shutil
import subprocess
import tempfile

WINDOWS_BUILD_DIR = os.environ.get("DOZOR_WINDOWS_BUILD_DIR", "")
AGENT_EXE = os.path.join(WINDOWS_BUILD_DIR, "agent", "dozor-agent.exe")


def windows_path(path):
    """A host path as a program under Wine names it: Z:\\tmp\\x for /tmp/x."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


class WinePrefix:
    """A throw-away Wine prefix; `env` runs programs in it with Wine's own chatter off."""

    def __init__(self, workdir):
        self.path = tempfile.mkdtemp(prefix="wine-", dir=workdir)
        self.env = dict(os.environ, WINEPREFIX=self.path, WINEDEBUG="-all",
                        # No Mono or Gecko (their installers would ask); a console program needs neither.
                        WINEDLLOVERRIDES="mscoree,mshtml=", LANG="C.UTF-8")
        result = self.run("wineboot", "--init", timeout=300)
        if result.returncode != 0:
            raise AssertionError(f"wineboot failed ({result.returncode}): {result.stderr[-2000:]}")
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=300)
        # A persistent Wine server: otherwise it ends a few seconds after its last program, taking
        # the service manager and every service with it, and the next `wine` command boots them
        # again (auto-start services included), as if the machine had rebooted.
        subprocess.run(["wineserver", "-p"], env=self.env, timeout=60)

    def command(self, exe, *args):
        return ["wine", exe] + list(args)

    def run(self, exe, *args, timeout=120, wine_debug=None):
        """Runs a program to its end; its output comes back as text (stdout, stderr, returncode).
        Through files, not pipes: Wine's own processes it may start (the service manager, the
        services) inherit the handles and would keep a pipe open long after the program ended.
        `wine_debug` turns on Wine's debug channels (WINEDEBUG) for this program, e.g. to see
        what it asked of a Windows part Wine only stubs."""
        env = self.env if wine_debug is None else dict(self.env, WINEDEBUG=wine_debug)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            result = subprocess.run(self.command(exe, *args), env=env, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, timeout=timeout)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(
                result.args, result.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"))

    def close(self):
        subprocess.run(["wineserver", "-k"], env=self.env, capture_output=True, timeout=60)
        shutil.rmtree(self.path, ignore_errors=True)
