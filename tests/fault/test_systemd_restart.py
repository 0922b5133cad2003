"""The server's systemd unit keeps it restarting under repeated faults, without a restart storm.

There is no systemd PID 1 in the build containers, so the unit cannot be run here. Instead the test
reads deploy/systemd/dozor-server.service and replays fault schedules through systemd 252's own
rules (Debian 12), which are small and documented:
- Restart=on-failure restarts after a non-zero exit, an unclean signal (SIGKILL, so also the
  kernel's or MemoryMax's OOM kill: result "oom-kill"), a timeout or the watchdog; not after a
  clean exit or a RestartPreventExitStatus= code;
- the restart is scheduled RestartSec= after the process is gone (systemd 252 has no
  RestartSteps=/RestartMaxDelaySec=, which came in 254: the delay is fixed);
- every start, restarts included, passes the start rate limit (src/basic/ratelimit.c): a fixed
  window that opens at a start more than StartLimitIntervalSec= after the window's first start;
  a start is refused, and the unit left "failed" for good, when StartLimitBurst= starts were
  already made in the current window.
Asserted: the issue's fault (kill -9 every 30 s for 10 minutes) and worse ones (killed 1 s after
every start, crashing at start for an hour) never end in "failed"; and no schedule starts the
server more than 60 / RestartSec + 1 times in any 60 s. As a check of the model, the unit's
previous limits (10 starts in 300 s) do end in "failed" under the issue's fault.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import Steps, check, log  # noqa: E402

SOURCE_DIR = os.environ.get("DOZOR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
UNIT = os.path.join(SOURCE_DIR, "deploy", "systemd", "dozor-server.service")


def parse_unit(path):
    """{section: {key: [values]}} (systemd allows repeated keys)."""
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def seconds(value):
    """systemd time span: "5", "5s", "1min", "500ms", "1min 30s"."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "": 1}
    total = 0.0
    for part in value.split():
        number = "".join(c for c in part if c.isdigit() or c == ".")
        total += float(number) * units[part[len(number):]]
    return total


class StartLimit:
    """systemd's RateLimit as used for unit starts (ratelimit_below)."""

    def __init__(self, interval, burst):
        self.interval, self.burst = interval, burst
        self.begin, self.num = None, 0

    def allow(self, now):
        if self.interval == 0 or self.burst == 0:
            return True  # not configured: no limit
        if self.begin is None or now - self.begin > self.interval:
            self.begin, self.num = now, 1
            return True
        if self.num < self.burst:
            self.num += 1
            return True
        return False


def replay(restart_sec, interval, burst, lives, horizon):
    """Starts the service at 0; each run lasts lives(n, restart_sec) s (n = start number), then dies uncleanly
    and is restarted restart_sec later. Returns (start times, time it was left failed or None)."""
    limit = StartLimit(interval, burst)
    starts, now, n = [], 0.0, 0
    while now <= horizon:
        if not limit.allow(now):
            return starts, now
        starts.append(now)
        now += lives(n, restart_sec) + restart_sec
        n += 1
    return starts, None


def max_starts_in(starts, window):
    best, first = 0, 0
    for last, t in enumerate(starts):
        while t - starts[first] > window:
            first += 1
        best = max(best, last - first + 1)
    return best


SCHEDULES = {
    # kill -9 on a fixed 30 s clock, as tests/fault/test_kill9_loop.py does: start to start 30 s.
    "kill -9 every 30 s for 10 min (the issue)": (lambda n, restart_sec: max(0.0, 30.0 - restart_sec), 600),
    "killed 1 s after every start for 1 h": (lambda n, restart_sec: 1.0, 3600),
    "crashes 0.05 s into every start for 1 h": (lambda n, restart_sec: 0.05, 3600),
    "OOM-killed 10 s after every start for 1 h": (lambda n, restart_sec: 10.0, 3600),
}


def main():
    unit = parse_unit(UNIT)
    service, unit_section = unit.get("Service", {}), unit.get("Unit", {})
    steps = Steps()
    values = {}

    def settings():
        check(service.get("Restart") == ["on-failure"], f"Restart=on-failure (got {service.get('Restart')})")
        check("2" in " ".join(service.get("RestartPreventExitStatus", [])).split(),
              "RestartPreventExitStatus=2: an unparsable config is not retried")
        check("StartLimitIntervalSec" not in service and "StartLimitBurst" not in service,
              "start limits are in [Unit] (in [Service] they are the deprecated spelling)")
        check(len(service.get("RestartSec", [])) == 1, "RestartSec= set once")
        values["restart_sec"] = seconds(service["RestartSec"][0])
        values["interval"] = seconds(unit_section.get("StartLimitIntervalSec", ["10"])[-1])
        values["burst"] = int(unit_section.get("StartLimitBurst", ["5"])[-1])
        check(values["restart_sec"] >= 5, f"RestartSec >= 5 s: a crash loop is not a storm ({values['restart_sec']})")
        log(f"   RestartSec={values['restart_sec']:g} StartLimitIntervalSec={values['interval']:g} "
            f"StartLimitBurst={values['burst']}")
        # The arithmetic behind it: restarts alone can never fill the window.
        if values["interval"] > 0:
            most = int(values["interval"] // values["restart_sec"]) + 1
            check(most < values["burst"],
                  f"at most {most} restarts fit in {values['interval']:g} s, fewer than the burst {values['burst']}")
    steps.run("unit settings", settings)

    def schedules():
        storm_bound = 60 / values["restart_sec"] + 1
        for name, (lives, horizon) in SCHEDULES.items():
            starts, failed_at = replay(values["restart_sec"], values["interval"], values["burst"], lives, horizon)
            per_minute = max_starts_in(starts, 60)
            log(f"   {name}: {len(starts)} starts, at most {per_minute} in any 60 s, "
                f"{'left FAILED at %.0f s' % failed_at if failed_at is not None else 'still restarting'}")
            check(failed_at is None, f"{name}: systemd gave up at {failed_at} s")
            check(per_minute <= storm_bound, f"{name}: {per_minute} starts in 60 s > {storm_bound:g}")
    steps.run("fault schedules keep it restarting, no storm", schedules)

    def model_check():
        lives, horizon = SCHEDULES["kill -9 every 30 s for 10 min (the issue)"]
        _, failed_at = replay(5, 300, 10, lives, horizon)
        check(failed_at is not None, "the old limits (10 starts in 300 s, RestartSec=5) give up under the issue's fault")
        log(f"   old limits: left failed at {failed_at:.0f} s (the 11th start)")
        check(StartLimit(0, 10).allow(0), "StartLimitIntervalSec=0 means no limit")
    steps.run("the model reproduces the old unit's failure", model_check)
    steps.finish()
    log("PASS")


if __name__ == "__main__":
    main()
