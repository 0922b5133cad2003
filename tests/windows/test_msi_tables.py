"""The Windows agent's MSI, read back with msiinfo: the service it installs and removes, the
properties an installation takes, the custom action that enrolls, the upgrade code. The
installation itself needs Windows Installer with a service control manager: not run here."""
import glob
import os
import subprocess

from harness import Steps, check, log
from wine import AGENT_EXE, WINDOWS_BUILD_DIR

# Never changes: every version of the agent upgrades the one before (deploy/windows/dozor-agent.wxs).
UPGRADE_CODE = "{F0A11426-7018-4725-99F1-E5302499366C}"


def table(msi, name):
    out = subprocess.run(["msiinfo", "export", msi, name], capture_output=True, check=True).stdout
    # msiinfo writes CRLF lines (read as bytes: text mode would also split at a bare CR in a value).
    lines = out.decode("utf-8").split("\r\n")
    columns = lines[0].split("\t")
    # Line 2 holds the column types, line 3 the table name and its keys.
    return [dict(zip(columns, line.split("\t") + [""] * (len(columns) - len(line.split("\t")))))
            for line in lines[3:] if line]


def main():
    msis = glob.glob(os.path.join(WINDOWS_BUILD_DIR, "dozor-agent-*-x64.msi"))
    check(len(msis) == 1, f"one MSI in {WINDOWS_BUILD_DIR}: {msis}")
    msi = msis[0]
    log(f"{msi}: {os.path.getsize(msi)} bytes")
    steps = Steps()

    def service():
        rows = table(msi, "ServiceInstall")
        check(len(rows) == 1, rows)
        s = rows[0]
        check(s["Name"] == "dozor-agent" and s["Arguments"] == "run", s)
        check(s["StartName"] == "LocalSystem", s)
        check(int(s["ServiceType"]) == 0x10, f"own process: {s}")
        check(int(s["StartType"]) == 2, f"automatic start: {s}")
        control = table(msi, "ServiceControl")
        check(len(control) == 1 and control[0]["Name"] == "dozor-agent", control)
        event = int(control[0]["Event"])
        # msidbServiceControlEvent: 1 start on install, 2 stop on install, 32 stop on uninstall,
        # 128 delete on uninstall: an uninstall leaves no service behind.
        for bit, meaning in ((1, "start on install"), (2, "stop on install"), (32, "stop on uninstall"),
                             (128, "delete on uninstall")):
            check(event & bit, f"service control lacks {meaning}: {event}")
        check(control[0]["Wait"] == "1", control)

    def files():
        rows = table(msi, "File")
        check([r["FileName"] for r in rows] == ["dozor-agent.exe"], rows)
        check(int(rows[0]["FileSize"]) == os.path.getsize(AGENT_EXE), f"the built agent is inside: {rows}")
        directories = {r["Directory"]: r for r in table(msi, "Directory")}
        check("ProgramFiles64Folder" in directories and "CommonAppDataFolder" in directories,
              f"Program Files (64-bit) and ProgramData: {sorted(directories)}")

    def properties():
        props = {r["Property"]: r["Value"] for r in table(msi, "Property")}
        check(props.get("UpgradeCode") == UPGRADE_CODE, props.get("UpgradeCode"))
        secure = props.get("SecureCustomProperties", "").split(";")
        for name in ("TOKEN", "SERVER", "CA_FILE", "CA_SHA256", "WIX_UPGRADE_DETECTED"):
            check(name in secure, f"{name} is a secure property: {secure}")
        check(props.get("MsiHiddenProperties") == "TOKEN", "the token never goes to the installer log")
        check(props.get("ALLUSERS") == "1", "per-machine")
        version = props.get("ProductVersion", "")
        check(os.path.basename(msi) == f"dozor-agent-{version}-x64.msi", f"{version} vs {msi}")
        summary = subprocess.run(["msiinfo", "suminfo", msi], capture_output=True, text=True, check=True).stdout
        check("Template: x64;1033" in summary, summary)

    def upgrade():
        rows = table(msi, "Upgrade")
        check(all(r["UpgradeCode"] == UPGRADE_CODE for r in rows) and len(rows) == 2, rows)
        by_property = {r["ActionProperty"]: r for r in rows}
        check(set(by_property) == {"WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"}, rows)
        actions = {r["Action"]: r for r in table(msi, "InstallExecuteSequence")}
        check("RemoveExistingProducts" in actions, "an upgrade removes the older version")

    def enroll_action():
        actions = {r["Action"]: r for r in table(msi, "CustomAction")}
        enroll = actions.get("EnrollAgent")
        check(enroll is not None, actions)
        kind = int(enroll["Type"])
        # 18: an .exe from the File table; 1024 deferred; 2048 not impersonated (LocalSystem);
        # 8192 (HideTarget): its command line, which holds the token, stays out of the log.
        check(kind & 0x3F == 18 and kind & 1024 and kind & 2048 and kind & 8192, f"type {kind}")
        check(enroll["Source"] == "AgentExe", enroll)
        for part in ("enroll --configure", "[SERVER]", "[TOKEN]", "[CA_FILE]", "[CA_SHA256]"):
            check(part in enroll["Target"], f"{part} in {enroll['Target']}")
        sequence = {r["Action"]: r for r in table(msi, "InstallExecuteSequence")}
        seq = {name: int(sequence[name]["Sequence"]) for name in ("InstallFiles", "EnrollAgent", "StartServices")}
        check(seq["InstallFiles"] < seq["EnrollAgent"] < seq["StartServices"], f"order: {seq}")
        check(sequence["EnrollAgent"]["Condition"] == 'TOKEN AND NOT (REMOVE~="ALL")',
              sequence["EnrollAgent"])

    def event_source():
        rows = {r["Name"]: r for r in table(msi, "Registry")}
        key = "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\dozor-agent"
        for name in ("EventMessageFile", "TypesSupported"):
            check(name in rows, f"{name} of the event source: {rows}")
            check(rows[name]["Root"] == "2" and rows[name]["Key"] == key, rows[name])  # 2: HKLM
            check(rows[name]["Component_"] == "AgentProgram", f"removed with the program: {rows[name]}")
        # The 64-bit System32's EventCreate.exe, resolved at install time; "#" marks a number
        # (TypesSupported: error, warning and information).
        check(rows["EventMessageFile"]["Value"] == "[System64Folder]EventCreate.exe",
              rows["EventMessageFile"])
        check(rows["TypesSupported"]["Value"] == "#7", rows["TypesSupported"])

    steps.run("the service: installed, started, stopped and removed with the product", service)
    steps.run("the event source of the service's warnings and errors, removed with the program", event_source)
    steps.run("the agent inside, into Program Files", files)
    steps.run("TOKEN, SERVER, CA_FILE, CA_SHA256 reach the elevated step; the token stays out of logs", properties)
    steps.run("one upgrade code: newer versions replace older ones", upgrade)
    steps.run("enroll --configure runs as LocalSystem between the files and the service start", enroll_action)
    steps.finish()
    log("PASS")


main()
