#!/usr/bin/env python3
"""Builds the dozor-agent and dozor-server .deb packages from the existing build tree and runs
their whole life cycle on this machine with dpkg: install, checks (files, modes, owners, users,
conffiles, dependencies, unit files), a real start of the installed server as its service user,
upgrade to a newer revision (identity, spool and edited conffiles survive), remove (state kept)
and purge (state, config and users gone). Packages are always purged at the end.

Needs root (CI runs as root); prints SKIP and exits 0 otherwise. Environment: DOZOR_BIN_DIR (the
CMake build directory, already built), DOZOR_SOURCE_DIR.
"""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

PACKAGES = ["dozor-agent", "dozor-server"]
AGENT_STATE = "/var/lib/dozor-agent"
SERVER_STATE = "/var/lib/dozor-server"
AGENT_UNIT = "/lib/systemd/system/dozor-agent.service"
SERVER_UNIT = "/lib/systemd/system/dozor-server.service"
TLS_DIR = "/etc/dozor/tls"

failures = []


def log(message):
    print(message, flush=True)


def check(condition, message):
    """Records a failed expectation and keeps going, so one run reports every broken thing."""
    if condition:
        log("  ok: " + message)
    else:
        log("  FAIL: " + message)
        failures.append(message)
    return condition


def run(args, check_rc=True, env=None, timeout=300, show_lines=60):
    log("$ " + " ".join(args))
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, timeout=timeout)
    if proc.stdout.strip() and show_lines > 0:
        for line in proc.stdout.rstrip().splitlines()[-show_lines:]:
            log("    " + line)
    if check_rc and proc.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {proc.returncode}")
    return proc


def package_status(name):
    proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}", name],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if proc.returncode != 0:
        return "", ""
    return proc.stdout[:3].strip(), proc.stdout[3:]


def installed_version(name):
    status, version = package_status(name)
    return version if status == "ii" else None


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def owner_of(path):
    info = os.lstat(path)
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def check_file(path, mode, owner, group):
    if not check(os.path.isfile(path), f"{path} exists"):
        return
    check(mode_of(path) == mode, f"{path} mode {oct(mode)} (is {oct(mode_of(path))})")
    check(owner_of(path) == (owner, group), f"{path} owned by {owner}:{group} "
          f"(is {':'.join(owner_of(path))})")


def check_dir(path, mode, owner, group):
    if not check(os.path.isdir(path), f"{path} is a directory"):
        return
    check(mode_of(path) == mode, f"{path} mode {oct(mode)} (is {oct(mode_of(path))})")
    check(owner_of(path) == (owner, group), f"{path} owned by {owner}:{group} "
          f"(is {':'.join(owner_of(path))})")


def purge_all():
    present = [p for p in PACKAGES if package_status(p)[0]]
    if present:
        run(["dpkg", "--purge"] + present, check_rc=False)


def cpack_command(bin_dir):
    """The cpack of the CMake that configured the tree (CMakeCache), else the one in PATH."""
    try:
        with open(os.path.join(bin_dir, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("CMAKE_CPACK_COMMAND:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "cpack"


def build_packages(bin_dir, out_dir, release=None):
    """cpack from the existing build tree: installs the agent/server components (no rebuild)."""
    env = dict(os.environ)
    if release is not None:
        env["DOZOR_PACKAGE_RELEASE"] = release
    else:
        env.pop("DOZOR_PACKAGE_RELEASE", None)
    started = time.monotonic()
    run([cpack_command(bin_dir), "-G", "DEB", "--config", os.path.join(bin_dir, "CPackConfig.cmake"),
         "-B", out_dir], env=env, timeout=600)
    debs = {}
    for name in os.listdir(out_dir):
        if name.endswith(".deb"):
            debs[name.split("_")[0]] = os.path.join(out_dir, name)
    log(f"  built {sorted(debs.values())} in {time.monotonic() - started:.1f} s")
    for package in PACKAGES:
        if package not in debs:
            raise RuntimeError(f"cpack produced no {package} package in {out_dir}")
    return debs


def check_stale_release_agent_refused(bin_dir, tmp):
    """A release agent whose source stamp (deploy/agent-source-stamp.sh) no longer matches the
    sources is refused by cpack, not shipped."""
    release = None
    with open(os.path.join(bin_dir, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("DOZOR_AGENT_PACKAGE_BINARY:"):
                release = line.split("=", 1)[1].strip()
    check(bool(release), "CMakeCache names the release agent (DOZOR_AGENT_PACKAGE_BINARY)")
    stamp = release + ".sources"
    with open(stamp, encoding="utf-8") as f:
        good = f.read()
    try:
        with open(stamp, "w", encoding="utf-8") as f:
            f.write("0" * 64 + "\n")  # as if built before the last source change
        result = subprocess.run([cpack_command(bin_dir), "-G", "DEB", "--config",
                                 os.path.join(bin_dir, "CPackConfig.cmake"), "-B", os.path.join(tmp, "stale")],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    finally:
        with open(stamp, "w", encoding="utf-8") as f:
            f.write(good)
    said = " ".join(result.stdout.split())  # CMake wraps its messages
    check(result.returncode != 0 and "was not built from these sources" in said,
          f"cpack refuses a stale release agent (exit {result.returncode}): {result.stdout[-600:]}")


def mdwe_health_sample_runs(binary):
    """`binary health` (one health sample, on its collector threads) in a child that asked the kernel
    to refuse executable memory (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN), as systemd's
    MemoryDenyWriteExecute does. True when it exits 0; also true where the kernel lacks MDWE."""
    import ctypes
    pid = os.fork()
    if pid == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(65, 1, 0, 0, 0) != 0:
                os._exit(0 if ctypes.get_errno() == 22 else 98)  # EINVAL: kernel before 6.3
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.environ["HOME"] = "/tmp"
            os.execv(binary, [binary, "health"])
        finally:
            os._exit(97)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    log(f"  {binary} health under PR_SET_MDWE: exit {code}")
    return code == 0


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.strip()


def check_package_metadata(debs):
    log("== package metadata")
    agent, server = debs["dozor-agent"], debs["dozor-server"]
    agent_depends = deb_field(agent, "Depends")
    server_depends = deb_field(server, "Depends")
    log(f"  dozor-agent Depends: {agent_depends}")
    log(f"  dozor-server Depends: {server_depends}")
    # dpkg-shlibdeps filled in the shared libraries the binaries really link. The release agent
    # (deploy/build-release-agent.sh) carries gRPC, protobuf, OpenSSL and SQLite inside; the C and
    # C++ runtimes (and spdlog/fmt) stay shared.
    if os.environ.get("DOZOR_AGENT_RELEASE") == "1":
        check("libc6" in agent_depends and "libstdc++6" in agent_depends
              and "libgrpc" not in agent_depends and "libssl" not in agent_depends,
              "the release dozor-agent carries gRPC and OpenSSL inside (no libgrpc/libssl dependency)")
        unpacked_agent = tempfile.mkdtemp(prefix="dozor-agent-deb-")
        subprocess.run(["dpkg-deb", "-x", agent, unpacked_agent], check=True)
        symbols = subprocess.run(["readelf", "--dyn-syms", "--wide",
                                  os.path.join(unpacked_agent, "usr/bin/dozor-agent")],
                                 stdout=subprocess.PIPE, text=True, check=True).stdout
        defined = [line for line in symbols.splitlines()
                   if line.endswith((" __hot_start", " __hot_end")) and " UND " not in line]
        # The service runs with MemoryDenyWriteExecute=yes: thread stacks must not need PROT_EXEC
        # (a binary without a non-executable GNU_STACK header gets executable stacks, and then no
        # thread starts). PR_SET_MDWE asks the kernel for the same refusal in this process.
        check(mdwe_health_sample_runs(os.path.join(unpacked_agent, "usr/bin/dozor-agent")),
              "the packaged agent starts its threads under MemoryDenyWriteExecute (PR_SET_MDWE)")
        check(len(defined) == 2,
              "the packaged agent is the one laid out by BOLT (its hot range is in .dynsym)")
        shutil.rmtree(unpacked_agent, ignore_errors=True)
    else:
        check("libgrpc++" in agent_depends and "libc6" in agent_depends,
              "dozor-agent depends on libc6 and libgrpc++ (from dpkg-shlibdeps)")
    check("libsqlite3" in server_depends and "libpango" in server_depends,
          "dozor-server depends on libsqlite3 and libpango (from dpkg-shlibdeps)")
    check("adduser" in agent_depends and "adduser" in server_depends,
          "both depend on adduser (maintainer scripts create users)")
    check("openssl" in server_depends, "dozor-server depends on openssl (postinst makes TLS)")
    check("smartmontools" in deb_field(agent, "Recommends"), "dozor-agent recommends smartmontools")
    for deb in (agent, server):
        listing = subprocess.run(["dpkg-deb", "--ctrl-tarfile", deb], stdout=subprocess.PIPE,
                                 check=True).stdout
        members = subprocess.run(["tar", "-t"], input=listing, stdout=subprocess.PIPE,
                                 check=True).stdout.decode()
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            check(f"./{script}" in members.split(), f"{os.path.basename(deb)} has {script}")
    contents = subprocess.run(["dpkg-deb", "-c", agent], stdout=subprocess.PIPE, text=True,
                              check=True).stdout
    check("./usr/bin/dozor-server" not in contents, "dozor-agent does not ship the server")
    role_script = [line for line in contents.splitlines()
                   if line.endswith("./usr/lib/dozor-agent/postgres-role")]
    check(len(role_script) == 1 and role_script[0].startswith("-rwxr-xr-x"),
          f"dozor-agent ships the PostgreSQL role script, executable: {role_script}")


def check_installed(expected_version):
    log("== installed files, users, state")
    for package in PACKAGES:
        check(installed_version(package) == expected_version,
              f"{package} installed at {expected_version} (is {installed_version(package)})")
    for binary in ("/usr/bin/dozor-agent", "/usr/bin/dozor-server", "/usr/bin/dozorctl"):
        check_file(binary, 0o755, "root", "root")
    check_file("/etc/dozor/agent.toml", 0o644, "root", "root")
    check_file("/etc/dozor/server.toml", 0o644, "root", "root")
    check_file(AGENT_UNIT, 0o644, "root", "root")
    check_file(SERVER_UNIT, 0o644, "root", "root")
    for package in PACKAGES:
        check_file(f"/usr/share/doc/{package}/copyright", 0o644, "root", "root")
        check_file(f"/usr/share/doc/{package}/changelog.Debian.gz", 0o644, "root", "root")
    for page in ("/usr/share/man/man8/dozor-agent.8.gz", "/usr/share/man/man8/dozor-server.8.gz",
                 "/usr/share/man/man1/dozorctl.1.gz"):
        check_file(page, 0o644, "root", "root")
    # The agent install script the server serves at /install.sh (install.script default).
    check_file("/usr/share/dozor-server/install.sh", 0o755, "root", "root")
    conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}\n"] + PACKAGES,
                               stdout=subprocess.PIPE, text=True, check=True).stdout
    check("/etc/dozor/agent.toml" in conffiles and "/etc/dozor/server.toml" in conffiles,
          "agent.toml and server.toml are dpkg conffiles")
    with open("/etc/dozor/agent.toml", encoding="utf-8") as f:
        check(re.search(r'^state_dir = "/var/lib/dozor-agent"$', f.read(), re.M) is not None,
              "agent.toml sets state_dir = /var/lib/dozor-agent")

    for user, home in (("dozor-agent", AGENT_STATE), ("dozor", SERVER_STATE)):
        if check(user_exists(user) and group_exists(user), f"system user and group {user}"):
            entry = pwd.getpwnam(user)
            check(entry.pw_uid < 1000, f"{user} is a system user (uid {entry.pw_uid})")
            check(entry.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"),
                  f"{user} has no login shell ({entry.pw_shell})")
            check(entry.pw_dir == home, f"{user} home is {home} ({entry.pw_dir})")
            check(grp.getgrgid(entry.pw_gid).gr_name == user, f"{user} primary group {user}")
    check_dir(AGENT_STATE, 0o700, "dozor-agent", "dozor-agent")
    check_dir(SERVER_STATE, 0o700, "dozor", "dozor")

    check_dir(TLS_DIR, 0o750, "root", "dozor")
    check_file(f"{TLS_DIR}/ca.key", 0o600, "root", "root")
    check_file(f"{TLS_DIR}/server.key", 0o640, "root", "dozor")
    check_file(f"{TLS_DIR}/server.crt", 0o644, "root", "dozor")
    if os.path.isfile(f"{TLS_DIR}/server.crt"):
        verify = run(["openssl", "verify", "-CAfile", f"{TLS_DIR}/ca.crt",
                      f"{TLS_DIR}/server.crt"], check_rc=False)
        check(verify.returncode == 0, "generated server.crt verifies against the generated CA")
        text = run(["openssl", "x509", "-in", f"{TLS_DIR}/server.crt", "-noout", "-ext",
                    "subjectAltName"], check_rc=False).stdout
        check("DNS:localhost" in text and "IP Address:127.0.0.1" in text,
              "server.crt names localhost and 127.0.0.1")

    # deb-systemd-helper enables units without a running systemd (symlinks + its state file).
    for unit in ("dozor-agent.service", "dozor-server.service"):
        link = f"/etc/systemd/system/multi-user.target.wants/{unit}"
        check(os.path.islink(link), f"{unit} enabled ({link})")


def check_units():
    log("== systemd units")
    if shutil.which("systemd-analyze") is None:
        check(False, "systemd-analyze is installed (deploy/install-deps.sh installs systemd)")
        return
    for unit in (AGENT_UNIT, SERVER_UNIT):
        proc = run(["systemd-analyze", "verify", unit], check_rc=False)
        # Syntax problems are printed as "FILE:LINE: message" and do not change the exit code;
        # without a running systemd other complaints can appear, those are only shown.
        syntax = [line for line in proc.stdout.splitlines() if re.match(rf"^{re.escape(unit)}:\d+:", line)]
        check(not syntax, f"{os.path.basename(unit)} has no syntax errors {syntax}")
        missing = [line for line in proc.stdout.splitlines() if "is not executable" in line]
        check(not missing, f"{os.path.basename(unit)}: ExecStart binary exists")
        security = run(["systemd-analyze", "security", "--offline=yes", unit], check_rc=False,
                       show_lines=0)
        score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
        if check(score is not None, f"systemd-analyze security scores {os.path.basename(unit)}"):
            log("    " + score.group(0))
            limit = 3.5 if "agent" in unit else 2.0
            check(float(score.group(1)) <= limit,
                  f"{os.path.basename(unit)} exposure {score.group(1)} <= {limit}")
    with open(AGENT_UNIT, encoding="utf-8") as f:
        agent = f.read()
    for line in ("User=dozor-agent", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "MemoryMax=192M", "CPUQuota=20%", "Restart=on-failure",
                 "ExecStart=/usr/bin/dozor-agent run --config /etc/dozor/agent.toml",
                 "ConditionPathExists=/var/lib/dozor-agent/identity.json"):
        check(re.search(rf"^{re.escape(line)}$", agent, re.M) is not None, f"agent unit: {line}")
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", agent, re.M)
    check(caps is not None and set(caps.group(1).split()) == {
        "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_ADMIN"},
        "agent capability bounding set is exactly the four documented capabilities")
    with open(SERVER_UNIT, encoding="utf-8") as f:
        server = f.read()
    for line in ("User=dozor", "CapabilityBoundingSet=", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "MemoryMax=2G", "Restart=on-failure"):
        check(re.search(rf"^{re.escape(line)}$", server, re.M) is not None, f"server unit: {line}")


def drop_to(user):
    entry = pwd.getpwnam(user)

    def demote():
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    return demote


def check_server_runs_as_service_user(tmp):
    """The installed server starts with the packaged config and TLS files as user dozor, as the
    unit would run it (ports moved to loopback port 0 so nothing else on the machine clashes)."""
    log("== installed dozor-server starts as user dozor with the packaged config")
    ready_dir = os.path.join(tmp, "ready")
    os.mkdir(ready_dir, 0o700)
    os.chown(ready_dir, pwd.getpwnam("dozor").pw_uid, -1)
    os.chmod(tmp, 0o755)
    ready = os.path.join(ready_dir, "ready.json")
    args = ["/usr/bin/dozor-server", "--config", "/etc/dozor/server.toml",
            "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
            "--ready-file", ready]
    log("$ (as dozor) " + " ".join(args))
    output = open(os.path.join(tmp, "server.log"), "w+", encoding="utf-8")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT, preexec_fn=drop_to("dozor"), cwd="/")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(ready) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        started = os.path.exists(ready)
        output.seek(0)
        for line in output.read().splitlines()[-10:]:
            log("    " + line)
        if check(started, "server bound its ports (TLS key readable by group dozor)"):
            with open(ready, encoding="utf-8") as f:
                log(f"    ready file: {json.load(f)}")
            check_file(f"{SERVER_STATE}/admin.token", 0o600, "dozor", "dozor")
            check_file(f"{SERVER_STATE}/dozor.db", 0o600, "dozor", "dozor")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        output.close()
    check(proc.returncode == 0, f"server stopped cleanly on SIGTERM (exit {proc.returncode})")


def run_lintian(debs):
    log("== lintian")
    if shutil.which("lintian") is None:
        log("  lintian not installed: skipped (deploy/install-deps.sh installs it)")
        return
    for package in PACKAGES:
        proc = run(["lintian", "--allow-root", "--display-info", "--tag-display-limit", "0",
                    debs[package]], check_rc=False, timeout=300)
        # Errors and warnings fail; informational tags are shown only (docs/packaging.md).
        bad = [line for line in proc.stdout.splitlines() if line.startswith(("E:", "W:"))]
        check(not bad, f"lintian reports no errors or warnings for {package} {bad}")


def main():
    if os.geteuid() != 0:
        log("SKIP: installing packages needs root (CI runs as root)")
        return 0
    for tool in ("dpkg", "dpkg-deb", "cpack", "dpkg-shlibdeps"):
        if shutil.which(tool) is None:
            log(f"SKIP: {tool} not found (not a Debian build machine)")
            return 0
    bin_dir = os.environ.get("DOZOR_BIN_DIR", "")
    if not os.path.isfile(os.path.join(bin_dir, "CPackConfig.cmake")):
        log(f"FAIL: no CPackConfig.cmake in DOZOR_BIN_DIR={bin_dir!r} (DozorPackaging.cmake "
            "not included?)")
        return 1
    for binary in ("agent/dozor-agent", "server/dozor-server", "server/dozorctl"):
        if not os.access(os.path.join(bin_dir, binary), os.X_OK):
            log(f"FAIL: {binary} not built in DOZOR_BIN_DIR={bin_dir!r}; build the project first")
            return 1
    # Never adopt or delete state that is not ours: a real agent or server on this machine.
    for package in PACKAGES:
        if package_status(package)[0]:
            log(f"FAIL: {package} is already installed here; refusing to touch a real install")
            return 1
    for path in (AGENT_STATE, SERVER_STATE, "/etc/dozor"):
        if os.path.exists(path):
            log(f"FAIL: {path} exists without the packages; refusing to adopt or purge it")
            return 1

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="dozor-packaging-")
    try:
        log("== building packages (cpack, no rebuild)")
        v1 = build_packages(bin_dir, os.path.join(tmp, "v1"))
        # Leave the agent package where the install-script e2e test looks for it.
        shipped = os.path.join(bin_dir, "packages")
        os.makedirs(shipped, exist_ok=True)
        shutil.copy(v1["dozor-agent"], shipped)
        version1 = deb_field(v1["dozor-agent"], "Version")
        release2 = version1.rsplit("-", 1)[1] + "+upgradetest1"
        v2 = build_packages(bin_dir, os.path.join(tmp, "v2"), release=release2)
        version2 = deb_field(v2["dozor-agent"], "Version")
        check(subprocess.run(["dpkg", "--compare-versions", version2, "gt", version1]).returncode
              == 0, f"upgrade package version {version2} > {version1}")
        check_package_metadata(v1)
        run_lintian(v1)
        if os.environ.get("DOZOR_AGENT_RELEASE") == "1":
            check_stale_release_agent_refused(bin_dir, tmp)

        log(f"== install {version1}")
        run(["dpkg", "-i", v1["dozor-agent"], v1["dozor-server"]])
        check_installed(version1)
        check_units()
        check(not os.path.exists(f"{AGENT_STATE}/identity.json"),
              "fresh install has no agent identity (unit waits for enrollment)")
        check_server_runs_as_service_user(tmp)
        # The unit's command as the unit's user: the packaged config is valid (a config error
        # exits 2) and points at the packaged state directory, where no identity exists yet.
        log("$ (as dozor-agent) /usr/bin/dozor-agent run --config /etc/dozor/agent.toml")
        proc = subprocess.run(["/usr/bin/dozor-agent", "run", "--config", "/etc/dozor/agent.toml"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30, cwd="/",
                              preexec_fn=drop_to("dozor-agent"))
        log("    " + proc.stdout.strip().replace("\n", "\n    "))
        check(proc.returncode == 1 and f"{AGENT_STATE}/identity.json" in proc.stdout,
              f"installed agent reads the packaged config and waits for enrollment "
              f"(exit {proc.returncode})")

        log("== state an enrolled host would have, and an administrator's edits")
        # As `dozor-agent enroll` run by root leaves it: owned by root, mode 0600.
        identity = json.dumps({"agent_id": "packaging-test-agent", "secret": os.urandom(16).hex(),
                               "server": "dozor.example.com:8443"})
        identity_path = f"{AGENT_STATE}/identity.json"
        fd = os.open(identity_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(identity)
        spool = os.urandom(4096)
        with open(f"{AGENT_STATE}/spool.db", "wb") as f:
            f.write(spool)
        marker = f"# edited by the packaging test {os.urandom(4).hex()}\n"
        for conf in ("/etc/dozor/agent.toml", "/etc/dozor/server.toml"):
            with open(conf, "a", encoding="utf-8") as f:
                f.write(marker)
        with open(f"{TLS_DIR}/server.crt", "rb") as f:
            certificate = f.read()
        uids = {u: pwd.getpwnam(u).pw_uid for u in ("dozor-agent", "dozor")}

        log(f"== upgrade to {version2}")
        run(["dpkg", "-i", v2["dozor-agent"], v2["dozor-server"]])
        check_installed(version2)
        with open(identity_path, encoding="utf-8") as f:
            check(f.read() == identity, "agent identity.json survived the upgrade unchanged")
        check_file(identity_path, 0o600, "dozor-agent", "dozor-agent")
        with open(f"{AGENT_STATE}/spool.db", "rb") as f:
            check(f.read() == spool, "agent spool survived the upgrade")
        for conf in ("/etc/dozor/agent.toml", "/etc/dozor/server.toml"):
            with open(conf, encoding="utf-8") as f:
                check(f.read().endswith(marker), f"edited {conf} kept on upgrade")
            check(not os.path.exists(conf + ".dpkg-dist") and not os.path.exists(conf + ".dpkg-new"),
                  f"no {conf}.dpkg-dist/.dpkg-new left behind")
        with open(f"{TLS_DIR}/server.crt", "rb") as f:
            check(f.read() == certificate, "server certificate not regenerated on upgrade")
        check(os.path.isfile(f"{SERVER_STATE}/dozor.db"), "server database kept on upgrade")
        for user, uid in uids.items():
            check(user_exists(user) and pwd.getpwnam(user).pw_uid == uid,
                  f"user {user} kept its uid {uid}")

        log("== reinstall the same version (maintainer scripts are idempotent)")
        run(["dpkg", "-i", v2["dozor-agent"], v2["dozor-server"]])
        check_installed(version2)
        with open(identity_path, encoding="utf-8") as f:
            check(f.read() == identity, "identity.json unchanged by a reinstall")

        log("== remove (state and config stay)")
        run(["dpkg", "--remove"] + PACKAGES)
        for package in PACKAGES:
            check(package_status(package)[0] == "rc", f"{package} in state config-files")
        for path in ("/usr/bin/dozor-agent", "/usr/bin/dozor-server", AGENT_UNIT, SERVER_UNIT):
            check(not os.path.exists(path), f"{path} removed")
        check(os.path.isfile(identity_path), "identity.json kept after remove")
        check(os.path.isfile(f"{SERVER_STATE}/dozor.db"), "server database kept after remove")
        check(os.path.isfile("/etc/dozor/agent.toml"), "agent.toml kept after remove")
        check(user_exists("dozor-agent") and user_exists("dozor"), "users kept after remove")

        log("== purge (state, config and users gone)")
        # The agent's CA as the one-line installer leaves it (deploy/install/install.sh).
        shutil.copyfile(f"{TLS_DIR}/ca.crt", "/etc/dozor/ca.crt")
        run(["dpkg", "--purge"] + PACKAGES)
        for package in PACKAGES:
            check(package_status(package)[0] in ("", "un", "pn"), f"{package} purged")
        for path in (AGENT_STATE, SERVER_STATE, "/etc/dozor",
                     "/etc/systemd/system/multi-user.target.wants/dozor-agent.service",
                     "/etc/systemd/system/multi-user.target.wants/dozor-server.service"):
            check(not os.path.lexists(path), f"{path} gone after purge")
        for user in ("dozor-agent", "dozor"):
            check(not user_exists(user) and not group_exists(user), f"user and group {user} gone")
    except Exception as error:  # noqa: BLE001 - report any step's failure, then clean up
        failures.append(f"{type(error).__name__}: {error}")
        log(f"  FAIL: {type(error).__name__}: {error}")
    finally:
        purge_all()
        shutil.rmtree(tmp, ignore_errors=True)

    log(f"== {time.monotonic() - started:.1f} s")
    if failures:
        log(f"FAILED: {len(failures)} check(s):")
        for failure in failures:
            log("  - " + failure)
        return 1
    log("PASS: packages install, upgrade, remove and purge cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
