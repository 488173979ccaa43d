#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host tests of the numakeep CLI, one case per invocation:

  cli_host_test.py NUMAKEEP FAKE_DAEMON EMPTY_PRELOAD CASE [NUMAKEEPD LIBNUMAKEEP]

CASE is one of: numactl-parity, json-schema, errors, tables, run, real-daemon
(runs the real numakeepd on a private socket, with cgroup_root
pointing at an empty directory, and real programs under libnumakeep.so),
set (`numakeep set` against the real daemon and nk-set-target, the program
given as the last argument).
Prints what it checks; exits 0 on success, 1 on the first failure list.
"""
import fcntl
import json
import os
import pty
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common"))
from nk_daemon import PrivateDaemon  # noqa: E402

NUMAKEEP, FAKE, EMPTY_PRELOAD, CASE = sys.argv[1:5]
NUMAKEEPD, LIBNUMAKEEP, SET_TARGET = (sys.argv[5:8] + [None, None, None])[:3]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# In a sanitizer build (tools/test-sanitizers) the preloads `run` puts into
# plain programs (sh, sleep, numactl) are sanitized too, and need the
# sanitizer's runtime first in LD_PRELOAD: NUMAKEEP_TEST_PRELOAD_PREFIX names
# it, and `run` appends libnumakeep.so after what LD_PRELOAD already holds,
# which is the documented way to host a sanitized runtime.
PRELOAD_PREFIX = os.environ.get("NUMAKEEP_TEST_PRELOAD_PREFIX", "")


def with_prefix(preload):
    """LD_PRELOAD as the command sees it: the sanitizer runtime first."""
    if not PRELOAD_PREFIX:
        return preload
    return PRELOAD_PREFIX + (":" + preload if preload else "")


def sanitizer_env(e):
    """e with the sanitizer's runtime put first in LD_PRELOAD (sanitizer builds)."""
    if PRELOAD_PREFIX and not e.get("LD_PRELOAD", "").startswith(PRELOAD_PREFIX):
        e["LD_PRELOAD"] = with_prefix(e.get("LD_PRELOAD", ""))
    return e


def numakeep(*args, env=None, **kw):
    e = dict(os.environ)
    e["NUMAKEEP_PRELOAD"] = EMPTY_PRELOAD
    e.pop("LD_PRELOAD", None)
    if env:
        e.update(env)
    return subprocess.run([NUMAKEEP, *args], env=sanitizer_env(e), capture_output=True, text=True,
                          timeout=30, **kw)


class FakeDaemon:
    def __init__(self, scenario):
        self.dir = tempfile.mkdtemp(prefix="numakeep-cli-")
        self.socket = os.path.join(self.dir, "numakeepd.sock")
        self.proc = subprocess.Popen([FAKE, self.socket, scenario])
        for _ in range(500):
            if os.path.exists(self.socket):
                return
            time.sleep(0.01)
        raise RuntimeError("fake daemon did not start")

    def env(self):
        return {"NUMAKEEP_SOCKET": self.socket}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- numactl parity --------------------------------------------------------

# Node lists that make sense on a one-node host (node 0): numakeep run must
# accept exactly what numactl accepts, option by option.
PARITY_LISTS = ["0", "all", "+0", "!0", "!+0", "0-0", "0,0", "+0-0", "0,all", "+all", "!all",
                "", "1", "x", "0-", "0-1", "1-0", "0,", ",0", "0,,0", "+1", "all,0", "ALL",
                "same", "+!0", "0:1", "0-0-0", "1024", "99999999999999999999", "!", "+",
                "!+", "netdev:lo", "08"]
# numactl reads node numbers with strtoul(s, &end, 0): hex, octal, signed and
# space-led numbers are accepted by both.
PARITY_LISTS += ["-0", "0x0", " 0", "00", "0 ", "0-00", "+0x0", "0, 0", "0 ,0"]
OPTIONS = ["--interleave", "--membind", "--preferred", "--preferred-many"]


def case_numactl_parity():
    if not shutil.which("numactl"):
        print("numactl not installed: skip")
        sys.exit(77)
    for opt in OPTIONS:
        for s in PARITY_LISTS:
            ref = subprocess.run(["numactl", f"{opt}={s}", "true"], capture_output=True)
            got = numakeep("run", f"{opt}={s}", "--", "true")
            check((ref.returncode == 0) == (got.returncode == 0),
                  f"{opt}={s!r}: numactl {'accepts' if ref.returncode == 0 else 'rejects'}, "
                  f"numakeep exit {got.returncode}")
            if got.returncode != 0:
                check(got.returncode == 1 and "numakeep:" in got.stderr,
                      f"{opt}={s!r}: rejected with exit 1 and a message")
    # The option spellings numactl takes.
    for form in (["-i0"], ["-i", "0"], ["--interleave", "0"], ["--inter=0"], ["-m0"],
                 ["--membind=0"], ["-p", "0"], ["-P0"], ["-l"], ["--localalloc"]):
        ref = subprocess.run(["numactl", *form, "true"], capture_output=True)
        got = numakeep("run", *form, "true")
        check(ref.returncode == got.returncode == 0, f"form {' '.join(form)} accepted by both")
    for form in (["-i0", "-m0"], ["-l", "-i0"], ["-i"], ["--bogus"]):
        ref = subprocess.run(["numactl", *form, "true"], capture_output=True)
        got = numakeep("run", *form, "true")
        check(ref.returncode != 0 and got.returncode == 1,
              f"form {' '.join(form)} rejected by both (numakeep exit {got.returncode})")


# --- JSON schema -----------------------------------------------------------

PROCESS_KEYS = {"pid": int, "uid": int, "command": str, "cgroup": str, "mems_now": list,
                "semantics": str, "kernel_assist": bool, "generation_applied": int,
                "generation_current": int, "rebind_pending": bool, "ranges": int,
                "threads": int, "last_rebind": (dict, type(None))}
LAST_REBIND_KEYS = {"unix_ms": int, "generation": int, "ranges_rebound": int,
                    "ranges_dropped": int, "ranges_checked": int, "threads_rebound": int,
                    "errors": int, "errno": int, "error": (str, type(None)),
                    "duration_ms": (int, float)}
POLICY_KEYS = {"mode": str, "flags": list, "home_node": (int, type(None)), "requested": list,
               "mems_at_request": list, "rule_now": list, "rule_home_node": (int, type(None)),
               "kernel": (dict, type(None)), "differs": bool, "assisted": bool,
               "origin": str, "set_by": (dict, type(None))}
RANGE_KEYS = dict(POLICY_KEYS, start=int, end=int, size=int, placement=(dict, type(None)))
COUNT_KEYS = {"placed": int, "to_move": int, "absent": int}
SHOW_PLACEMENT_KEYS = dict(COUNT_KEYS, enabled=bool, rate_mib=int)
THREAD_KEYS = dict(POLICY_KEYS, tid=int, unreachable=bool)
KERNEL_KEYS = {"mode": str, "flags": list, "nodes": list}


def check_keys(obj, keys, where):
    check(isinstance(obj, dict) and set(obj) == set(keys),
          f"{where}: exactly the documented keys {sorted(keys)}"
          + ("" if isinstance(obj, dict) and set(obj) == set(keys)
             else f" (got {sorted(obj) if isinstance(obj, dict) else type(obj)})"))
    if not isinstance(obj, dict):
        return
    for k, t in keys.items():
        if k in obj:
            ok = isinstance(obj[k], t) and not (t is int and isinstance(obj[k], bool))
            check(ok, f"{where}.{k} has type {t}")
        if k in obj and isinstance(obj[k], list) and k not in ("processes", "threads", "ranges"):
            check(all(isinstance(x, (int, str)) for x in obj[k]), f"{where}.{k} items")


def load(result, what):
    check(result.returncode == 0, f"{what}: exit 0 (got {result.returncode}: {result.stderr.strip()})")
    try:
        return json.loads(result.stdout)
    except ValueError as e:
        check(False, f"{what}: parses as JSON ({e})")
        return {}


def case_json_schema():
    with FakeDaemon("normal") as d:
        ps = load(numakeep("ps", "--json", env=d.env()), "ps --json")
        check_keys(ps, {"schema": str, "processes": list}, "ps")
        check(ps.get("schema") == "numakeep.ps/1", "ps schema name")
        check(len(ps.get("processes", [])) == 3, "ps lists the daemon's 3 processes")
        for p in ps.get("processes", []):
            check_keys(p, PROCESS_KEYS, f"ps.processes[{p.get('pid')}]")
            if p.get("last_rebind"):
                check_keys(p["last_rebind"], LAST_REBIND_KEYS, "last_rebind")
        check([p["pid"] for p in ps.get("processes", [])] == [1000, 1001, 1002], "ps sorted by pid")
        check(ps["processes"][0]["mems_now"] == [0, 1], "mems_now as node numbers")

        show = load(numakeep("show", "1234", "--json", env=d.env()), "show PID --json")
        check_keys(show, {"schema": str, "pid": int, "under_numakeep": bool, "process": dict,
                          "threads": list, "ranges": list, "truncated": bool,
                          "placement": dict}, "show")
        check(show.get("schema") == "numakeep.show/1", "show schema name")
        check_keys(show.get("placement"), SHOW_PLACEMENT_KEYS, "show.placement")
        check_keys(show.get("process"), PROCESS_KEYS, "show.process")
        for t in show.get("threads", []):
            check_keys(t, THREAD_KEYS, f"show.threads[{t.get('tid')}]")
        for r in show.get("ranges", []):
            check_keys(r, RANGE_KEYS, f"show.ranges[{r.get('start')}]")
            if r.get("kernel"):
                check_keys(r["kernel"], KERNEL_KEYS, "kernel")
            if r.get("placement"):
                check_keys(r["placement"], COUNT_KEYS, "placement")
        ranges = show.get("ranges", [])
        check([r["start"] for r in ranges] == sorted(r["start"] for r in ranges), "ranges in address order")
        bind = [r for r in ranges if r["mode"] == "bind" and r["kernel"]]
        check(bind and bind[0]["differs"] and bind[0]["rule_now"] == [0, 1]
              and bind[0]["kernel"]["nodes"] == [0], "a range whose kernel nodes differ is marked")
        check(bind and bind[0]["home_node"] == 3 and bind[0]["rule_home_node"] == 1, "home nodes")
        check(any(r["assisted"] and "relative_nodes" in r["kernel"]["flags"] for r in ranges if r["kernel"]),
              "kernel-assisted entry marked, with the kernel's relative_nodes flag")
        check(any(r["kernel"] is None and not r["differs"] for r in ranges), "unreadable kernel policy is null")
        check([t["tid"] for t in show.get("threads", [])] == [1234, 1235], "threads sorted by tid")
        check(show["threads"][1]["flags"] == ["static_nodes"], "flags by name")

        st = load(numakeep("status", "--json", env=d.env()), "status --json")
        check_keys(st, {"schema": str, "daemon": dict, "config": dict, "counters": dict,
                        "cli_version": str}, "status")
        check(st.get("schema") == "numakeep.status/1", "status schema name")
        check_keys(st.get("daemon"), {"pid": int, "version": str, "uptime_ms": int, "socket": str,
                                      "config_path": str}, "status.daemon")
        check_keys(st.get("config"), {"default_semantics": str, "placement": bool,
                                      "placement_rate_mib": int,
                                      "kernel_assist": bool, "reconcile_ms": int,
                                      "rebind_timeout_ms": int, "max_conns_per_uid": int,
                                      "max_concurrency": int, "log_level": str}, "status.config")
        check_keys(st.get("counters"), {k: int for k in (
            "processes", "ranges", "threads", "mems_writes", "rebinds_requested", "rebinds",
            "ranges_rebound", "ranges_dropped", "errors", "timeouts", "dropped_clients",
            "respreads", "pages_moved", "pages_skipped", "sets")}, "status.counters")
        check(st["daemon"]["socket"] == d.socket, "status names the socket it used")

    me = load(numakeep("show", "--json"), "show --json (no PID)")
    check_keys(me, {"schema": str, "pid": int, "under_numakeep": bool, "task_policy": dict,
                    "mems_allowed": list}, "show (self)")
    check(me.get("under_numakeep") is False, "the CLI says it is not under numakeep")
    check_keys(me.get("task_policy"), {"mode": str, "flags": list, "nodes": list}, "task_policy")
    me = load(numakeep("run", "--membind=0", "--", NUMAKEEP, "show", "--json"), "run -m0 show --json")
    check(me.get("task_policy", {}).get("mode") == "bind" and me["task_policy"]["nodes"] == [0],
          "show reports the task policy run set (bind 0)")


# --- errors ----------------------------------------------------------------

def expect(result, code, *needles, what):
    ok = result.returncode == code and all(n in result.stderr for n in needles)
    check(ok, f"{what}: exit {code} and {list(needles)}"
          + ("" if ok else f" (got {result.returncode}: {result.stderr.strip()!r})"))


def case_errors():
    missing = {"NUMAKEEP_SOCKET": "/nonexistent/numakeepd.sock"}
    for cmd in (["ps"], ["show", "1"], ["status"], ["ps", "--json"]):
        expect(numakeep(*cmd, env=missing), 2, "numakeepd is not running", "/nonexistent/numakeepd.sock",
               "systemctl start numakeepd.socket", what=f"{' '.join(cmd)} without daemon")
    with FakeDaemon("error:ENOENT") as d:
        expect(numakeep("show", "999999", env=d.env()), 3, "no such process: 999999",
               what="no such pid")
    with FakeDaemon("error:ESRCH") as d:
        expect(numakeep("show", str(os.getpid()), env=d.env()), 3,
               f"process {os.getpid()} is not under numakeep", "numakeep run", what="pid not under numakeep")
        # The daemon cannot tell a dead pid from an unregistered one; the CLI can.
        dead = subprocess.Popen(["true"])
        dead.wait()
        expect(numakeep("show", str(dead.pid), env=d.env()), 3, f"no such process: {dead.pid}",
               what="dead pid reported as no such process")
    with FakeDaemon("error:EPERM") as d:
        expect(numakeep("show", "1", env=d.env()), 4, "permission denied", "another user",
               what="another user's process")
        expect(numakeep("show", "1", "--json", env=d.env()), 4, "permission denied",
               what="permission denied with --json")
        if os.geteuid() == 0 and shutil.which("setpriv"):
            # The socket's directory is private to root: connect() gets EACCES.
            cli = os.path.join(tempfile.mkdtemp(prefix="numakeep-cli-bin-"), "numakeep")
            shutil.copy(NUMAKEEP, cli)
            os.chmod(os.path.dirname(cli), 0o755)
            os.chmod(cli, 0o755)
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cli, "ps"],
                               env=dict(os.environ, **d.env()), capture_output=True, text=True, timeout=30)
            expect(r, 4, "permission denied connecting to numakeepd", d.socket,
                   what="socket refuses the caller")
            shutil.rmtree(os.path.dirname(cli), ignore_errors=True)
    with FakeDaemon("error:ETIMEDOUT") as d:
        expect(numakeep("show", "1", env=d.env()), 5, "did not answer", what="agent silent")
    with FakeDaemon("garbage") as d:
        expect(numakeep("status", env=d.env()), 2, "malformed answer", what="daemon answers garbage")
    expect(numakeep("run", "--interleave=0,x", "true"), 1, 'bad node list "0,x": "x"',
           what="bad node list names the token")
    expect(numakeep("run", "--membind=7", "true"), 1, '"7"', "not among the allowed nodes",
           "allowed now: 0", what="node outside cpuset")
    expect(numakeep("run", "--preferred=+5", "true"), 1, '"5"', what="relative node out of range")
    expect(numakeep("show", "abc"), 1, '"abc" is not a process id', what="bad pid")
    expect(numakeep("show", "1", "2"), 1, "unexpected argument", what="two pids")
    expect(numakeep("ps", "--bogus"), 1, "unknown option --bogus", what="unknown option")
    expect(numakeep("frob"), 1, 'unknown command "frob"', what="unknown command")
    expect(numakeep(), 1, "missing command", what="no command")
    expect(numakeep("run"), 1, "missing COMMAND", what="run without command")
    expect(numakeep("run", "--", "no-such-command-numakeep"), 127, "command not found",
           what="command not found")
    expect(numakeep("run", "--semantics=sideways", "true"), 1, 'unknown semantics "sideways"',
           what="bad semantics")
    for cmd in ("run", "ps", "show", "status"):
        r = numakeep(cmd, "--help")
        check(r.returncode == 0 and "Usage: numakeep " + cmd in r.stdout and "Exit status:" in r.stdout
              and "127" in r.stdout, f"{cmd} --help documents usage and exit codes")
    r = numakeep("--version")
    check(r.returncode == 0 and r.stdout.startswith("numakeep "), "--version")


# --- tables ----------------------------------------------------------------

def run_in_pty(args, env, columns):
    """Runs numakeep with stdout on a pseudo-terminal of `columns` columns."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    e = dict(os.environ, **env)
    p = subprocess.Popen([NUMAKEEP, *args], stdout=slave, stderr=subprocess.PIPE, env=e)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait()
    os.close(master)
    return p.returncode, out.decode().replace("\r\n", "\n")


def case_tables():
    with FakeDaemon("normal") as d:
        plain = numakeep("ps", env=d.env())
        lines = plain.stdout.splitlines()
        check(plain.returncode == 0 and lines[0].split()[:3] == ["PID", "COMMAND", "CGROUP"],
              "ps prints a header")
        check(any("/numakeep-test/a-rather-long-cgroup-name/leaf-1000" in l for l in lines),
              "off a terminal nothing is cut")
        for cols in (60, 100):
            rc, out = run_in_pty(["ps"], d.env(), cols)
            widest = max(len(l) for l in out.splitlines())
            check(rc == 0 and widest <= cols, f"ps fits a {cols}-column terminal (widest {widest})")
            check("~" in out, f"cut cells end in ~ at {cols} columns")
        rc, out = run_in_pty(["show", "42"], d.env(), 80)
        widest = max(len(l) for l in out.splitlines())
        check(rc == 0 and widest <= 80, f"show fits 80 columns (widest {widest})")
        show = numakeep("show", "42", env=d.env()).stdout
        print(show)
        check("task policies:" in show and "ranges:" in show, "show has both sections")
        check(any(l.rstrip().endswith("0 *") and "bind" in l for l in show.splitlines()),
              "differing range marked * after the kernel's nodes")
        check(any(l.rstrip().endswith("1 A") for l in show.splitlines()), "assisted range marked A")
        check(any(l.rstrip().endswith("?") for l in show.splitlines()), "unreadable range marked ?")
        check("the kernel's nodes differ from the rule's" in show, "legend for *")
        check("home=3" in show and "home=1" in show, "home node requested and by rule")
        # The pages of the ranges, counted by the CLI from the kernel: the
        # fake daemon's pid 42 is no process of ours, or one without these
        # addresses: no page present, ON INTENT "-" (the counts themselves
        # are checked in the guest, cli-show-placement).
        lines = show.splitlines()
        head = [i for i, l in enumerate(lines) if l.startswith("pages of the ranges (placement ")]
        check(len(head) == 1, "show has the pages section, with placement's setting and rate")
        if head:
            cols = lines[head[0] + 1].split()
            check(cols[:2] == ["START", "SIZE"] and "INTENT" in cols and "MOVE" in cols
                  and cols[-1] == "ABSENT", f"pages columns (got {cols})")
            rows = [l.split() for l in lines[head[0] + 2:] if l.startswith("0x")]
            check(rows and all(r[-3] == "-" for r in rows), "no page present: ON INTENT is -")
    with FakeDaemon("many:100") as d:
        r = numakeep("ps", env=d.env())
        check(r.returncode == 0 and len(r.stdout.splitlines()) == 101, "ps lists 100 processes")
    with FakeDaemon("many:0") as d:
        r = numakeep("ps", env=d.env())
        check(r.returncode == 0 and "no process is under numakeep" in r.stdout, "empty ps says so")


# --- run -------------------------------------------------------------------

def case_run():
    # Same pid: run execs in place.
    e = sanitizer_env(dict(os.environ, NUMAKEEP_PRELOAD=EMPTY_PRELOAD))
    p = subprocess.Popen([NUMAKEEP, "run", "--", "sh", "-c", "echo $$"], stdout=subprocess.PIPE,
                         env=e, text=True)
    out, _ = p.communicate()
    check(out.strip() == str(p.pid), f"run keeps the pid ({out.strip()} == {p.pid})")

    r = numakeep("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"')
    check(r.stdout.strip() == with_prefix(EMPTY_PRELOAD), "LD_PRELOAD set to the runtime")
    r = numakeep("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"', env={"LD_PRELOAD": EMPTY_PRELOAD + " "})
    check(r.stdout.strip() == with_prefix(EMPTY_PRELOAD), "no second copy when LD_PRELOAD already has it")
    other = shutil.which("true")
    with tempfile.TemporaryDirectory() as tmp:
        lib2 = os.path.join(tmp, "other.so")
        shutil.copy(EMPTY_PRELOAD, lib2)
        r = numakeep("run", "--", "sh", "-c", 'echo "$LD_PRELOAD"', env={"LD_PRELOAD": lib2})
        check(r.stdout.strip() == with_prefix(f"{lib2}:{EMPTY_PRELOAD}"),
              "appended after an existing LD_PRELOAD")
        suid = os.path.join(tmp, "suid-true")
        shutil.copy(other, suid)
        os.chmod(suid, 0o4755)
        r = numakeep("run", "--", suid)
        check(r.returncode == 0 and "is set-uid" in r.stderr, "set-uid COMMAND: warns and runs")
    r = numakeep("run", "--", "sh", "-c", 'echo "$NUMAKEEP_SEMANTICS"', env={"NUMAKEEP_SEMANTICS": ""})
    check(r.stdout.strip() == "", "no semantics given: none exported")
    r = numakeep("run", "--semantics", "relative", "--", "sh", "-c", 'echo "$NUMAKEEP_SEMANTICS"')
    check(r.stdout.strip() == "relative", "--semantics exported as NUMAKEEP_SEMANTICS")
    static = None
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(cand) and b"interp" not in subprocess.run(
                ["readelf", "-l", cand], capture_output=True).stdout.lower():
            static = cand
    if static:
        r = numakeep("run", "--", static, "true")
        check(r.returncode == 0 and "statically linked" in r.stderr, "static COMMAND: warns and runs")
    else:
        print("no static busybox here: static warning not checked")
    r = numakeep("run", "--", "true")
    check(r.returncode == 0 and r.stderr == "", "a dynamic COMMAND runs without a word")
    r = numakeep("run", "-m", "0", "--", "numactl", "--show")
    check("policy: bind" in r.stdout, "--membind reaches the command as its task policy")
    r = numakeep("run", "-i", "all", "--", "numactl", "--show")
    check("policy: interleave" in r.stdout, "--interleave=all reaches the command")
    r = numakeep("run", "-p", "0", "--", "numactl", "--show")
    check("policy: preferred" in r.stdout, "--preferred reaches the command")
    r = numakeep("run", "-l", "--", "numactl", "--show")
    check(r.returncode == 0 and ("policy: local" in r.stdout or "policy: default" in r.stdout),
          "--localalloc reaches the command")
    r = numakeep("run", "--", "sh", "-c", "exit 7")
    check(r.returncode == 7, "run exits as COMMAND does")
    r = numakeep("run", "true", "-i", "0")
    check(r.returncode == 0, "options after COMMAND are COMMAND's (no -- needed)")


# --- the real daemon --------------------------------------------------------

def case_real_daemon():
    tmp = tempfile.mkdtemp(prefix="numakeep-cli-real-")
    os.chmod(tmp, 0o755)
    os.mkdir(os.path.join(tmp, "cg"))
    conf = os.path.join(tmp, "numakeepd.conf")
    with open(conf, "w") as f:
        f.write(f"cgroup_root = {tmp}/cg\n")
    sock = os.path.join(tmp, "numakeepd.sock")
    daemon = subprocess.Popen([NUMAKEEPD, "--config", conf, "--socket", sock, "--foreground"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        env = {"NUMAKEEP_SOCKET": sock, "NUMAKEEP_PRELOAD": LIBNUMAKEEP}
        st = load(numakeep("status", "--json", env=env), "status --json (real daemon)")
        check(st.get("daemon", {}).get("socket") == sock, "real daemon reports its socket")
        e = sanitizer_env(dict(os.environ, **env))
        for _ in range(3):
            workers.append(subprocess.Popen([NUMAKEEP, "run", "--interleave=all", "--", "sleep", "30"],
                                            env=e))
        pids = sorted(w.pid for w in workers)
        listed = []
        for _ in range(200):
            ps = json.loads(numakeep("ps", "--json", env=env).stdout or "{}")
            listed = sorted(p["pid"] for p in ps.get("processes", []))
            if set(pids) <= set(listed):
                break
            time.sleep(0.05)
        check(set(pids) <= set(listed), f"ps lists the processes started by run ({pids} in {listed})")
        show = load(numakeep("show", str(pids[0]), "--json", env=env), "show PID --json (real daemon)")
        threads = show.get("threads", [])
        check(len(threads) == 1 and threads[0]["tid"] == pids[0] and threads[0]["mode"] == "interleave"
              and threads[0]["requested"] == [0] and threads[0]["kernel"] is not None
              and threads[0]["kernel"]["nodes"] == [0] and not threads[0]["differs"],
              f"show: run's interleave=all is the main thread's request, kernel agrees ({threads})")
        r = numakeep("show", str(pids[0]), env=env)
        check(r.returncode == 0 and "interleave" in r.stdout, "show PID table (real daemon)")
        expect(numakeep("show", str(os.getpid()), env=env), 3, "is not under numakeep",
               what="real daemon: pid not under numakeep")
        dead = subprocess.Popen(["true"])
        dead.wait()
        expect(numakeep("show", str(dead.pid), env=env), 3, "no such process",
               what="real daemon: no such pid")
        if os.geteuid() == 0 and shutil.which("setpriv"):
            cli = os.path.join(tmp, "numakeep")
            shutil.copy(NUMAKEEP, cli)
            os.chmod(cli, 0o755)
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cli,
                                "show", str(pids[0])], env=dict(os.environ, **env),
                               capture_output=True, text=True, timeout=30)
            expect(r, 4, "permission denied", "another user", what="real daemon: another user's process")
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cli,
                                "ps", "--json"], env=dict(os.environ, **env),
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 0 and json.loads(r.stdout)["processes"] == [],
                  "real daemon: another user sees none of root's processes")
        else:
            print("not root or no setpriv: permission case not checked")
    finally:
        for w in workers:
            w.kill()
            w.wait()
        daemon.terminate()
        daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    check_kernel_assist_listed()


def check_kernel_assist_listed():
    """Under a daemon whose kernel_assist default is on, ps shows the setting
    each process runs with: the default unless NUMAKEEP_KERNEL_ASSIST chose."""
    tmp = tempfile.mkdtemp(prefix="numakeep-cli-assist-")
    daemon = PrivateDaemon(NUMAKEEPD, tmp, "kernel_assist = yes\n")
    sock = daemon.sock
    workers = {}
    try:
        env = {"NUMAKEEP_SOCKET": sock, "NUMAKEEP_PRELOAD": LIBNUMAKEEP}
        for setting in ("unset", "0", "1"):
            e = sanitizer_env(dict(os.environ, **env))
            e.pop("NUMAKEEP_KERNEL_ASSIST", None)
            if setting != "unset":
                e["NUMAKEEP_KERNEL_ASSIST"] = setting
            # A task policy: the agent connects only once it has a record.
            workers[setting] = subprocess.Popen(
                [NUMAKEEP, "run", "--interleave=all", "--", "sleep", "30"], env=e)
        listed = {}
        for _ in range(200):
            ps = json.loads(numakeep("ps", "--json", env=env).stdout or "{}")
            listed = {p["pid"]: p["kernel_assist"] for p in ps.get("processes", [])}
            if all(w.pid in listed for w in workers.values()):
                break
            time.sleep(0.05)
        want = {"unset": True, "0": False, "1": True}
        for setting, w in workers.items():
            check(listed.get(w.pid) == want[setting],
                  f"kernel_assist = yes, NUMAKEEP_KERNEL_ASSIST {setting}: ps --json says "
                  f"kernel_assist {listed.get(w.pid)} (want {want[setting]})")
        show = load(numakeep("show", str(workers["unset"].pid), "--json", env=env),
                    "show PID --json (kernel_assist = yes)")
        check(show.get("process", {}).get("kernel_assist") is True,
              f"show --json: the daemon's default is the process's setting ({show.get('process')})")
    finally:
        for w in workers.values():
            w.kill()
            w.wait()
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# --- set ---------------------------------------------------------------------

def wait_file(path, timeout=15):
    for _ in range(int(timeout / 0.02)):
        if os.path.exists(path):
            with open(path) as f:
                return f.read()
        time.sleep(0.02)
    return None


def case_set():
    """numakeep set against the real daemon, on the host's one node: the
    task policy of every thread, part of a range (split), the program's own
    mbind after a set (it wins), --cgroup through a private cgroup_root, and
    every refusal with its exit status."""
    tmp = tempfile.mkdtemp(prefix="numakeep-cli-set-")
    os.chmod(tmp, 0o755)
    daemon = PrivateDaemon(NUMAKEEPD, tmp)
    env = {"NUMAKEEP_SOCKET": daemon.sock, "NUMAKEEP_PRELOAD": LIBNUMAKEEP}
    work = os.path.join(tmp, "target")
    os.mkdir(work)
    target = None
    try:
        e = sanitizer_env(dict(os.environ, **env))
        target = subprocess.Popen([NUMAKEEP, "run", "--", SET_TARGET, work, "3", "4", "interleave"],
                                  env=e)
        info = wait_file(os.path.join(work, "info"))
        check(info is not None, "nk-set-target started")
        pid, addr, length = info.split()
        pid, addr, length = int(pid), int(addr, 16), int(length)
        for _ in range(200):
            if numakeep("show", str(pid), env=env).returncode == 0:
                break
            time.sleep(0.05)

        # --task: every thread, recorded as set's, kernel agrees.
        r = numakeep("set", "--interleave=0", "--task", "--wait", str(pid), env=env)
        check(r.returncode == 0 and "applied" in r.stdout,
              f"set --task --wait: exit 0, applied ({r.returncode}: {r.stdout} {r.stderr})")
        show = load(numakeep("show", str(pid), "--json", env=env), "show after set --task")
        threads = show.get("threads", [])
        check(len(threads) == 4, f"all 4 threads carry a task policy ({len(threads)})")
        check(all(t["origin"] == "set" and t["mode"] == "interleave" and t["kernel"]
                  and t["kernel"]["nodes"] == [0] for t in threads),
              f"every thread: interleave 0 from set, kernel agrees ({threads})")
        check(all(t["set_by"] and t["set_by"]["uid"] == os.getuid() for t in threads),
              "show says who set it")
        ranges = show.get("ranges", [])
        check(len(ranges) == 1 and ranges[0]["origin"] == "program",
              f"--task left the program's range alone ({ranges})")
        plain = numakeep("show", str(pid), env=env).stdout
        check("installed by `numakeep set`" in plain and " S" in plain, "show's table marks S")

        # Threads created afterwards inherit it.
        open(os.path.join(work, "spawn"), "w").close()
        check(wait_file(os.path.join(work, "spawned")) is not None, "2 more threads started")
        show = load(numakeep("show", str(pid), "--json", env=env), "show after spawn")
        threads = show.get("threads", [])
        check(len(threads) == 6 and all(t["origin"] == "set" for t in threads),
              f"threads created after set inherit set's request ({len(threads)})")

        # --ranges --range: the first MiB of the range, split.
        r = numakeep("set", "--membind=0", "--ranges", f"--range={addr:#x}-{addr + (1 << 20):#x}",
                     "--wait", "--json", str(pid), env=env)
        out = load(r, "set --ranges --range --json")
        check(out.get("schema") == "numakeep.set/1" and out["processes"][0]["ranges_set"] == 1,
              f"set --json: one range piece set ({out})")
        ranges = load(numakeep("show", str(pid), "--json", env=env), "show after --range")["ranges"]
        check([(x["start"], x["end"], x["mode"], x["origin"]) for x in ranges]
              == [(addr, addr + (1 << 20), "bind", "set"),
                  (addr + (1 << 20), addr + length, "interleave", "program")],
              f"the range split at the --range end ({[(x['start'], x['end'], x['mode'], x['origin']) for x in ranges]})")

        # The program's own mbind afterwards wins.
        open(os.path.join(work, "mbind"), "w").close()
        check(wait_file(os.path.join(work, "mbind.done")) == "0\n", "the program's mbind succeeded")
        ranges = load(numakeep("show", str(pid), "--json", env=env), "show after own mbind")["ranges"]
        first = [x for x in ranges if x["start"] == addr]
        check(first and first[0]["origin"] == "program" and first[0]["mode"] == "bind"
              and first[0]["end"] == addr + length // 2,
              f"its own call replaced set's request ({ranges})")

        # --cgroup through the private cgroup_root.
        cg = os.path.join(daemon.tmp, "cgroup", "app", "leaf")
        os.makedirs(cg)
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(f"{pid}\n")
        out = load(numakeep("set", "--interleave=all", "--cgroup", "/app", "--all", "--wait",
                            "--json", env=env), "set --cgroup --json")
        procs = out.get("processes", [])
        check(len(procs) == 1 and procs[0]["pid"] == pid and procs[0]["outcome"] == "applied",
              f"--cgroup /app reaches the process in /app/leaf ({procs})")
        expect(numakeep("set", "-i", "0", "--cgroup", "/nope", env=env), 3, "no such cgroup",
               what="set --cgroup of a missing cgroup")
        os.makedirs(os.path.join(daemon.tmp, "cgroup", "empty"))
        expect(numakeep("set", "-i", "0", "--cgroup", "/empty", env=env), 3,
               "no process under numakeep", what="set --cgroup with nobody under numakeep")

        # Refusals.
        expect(numakeep("set", "-i", "0", str(os.getpid()), env=env), 3, "not running under numakeep",
               "numakeep run", what="set on a process not under numakeep")
        dead = subprocess.Popen(["true"])
        dead.wait()
        expect(numakeep("set", "-i", "0", str(dead.pid), env=env), 3, "no such process",
               what="set on a pid that does not exist")
        expect(numakeep("set", str(pid), env=env), 1, "missing POLICY", what="set without a policy")
        expect(numakeep("set", "-i", "0", env=env), 1, "missing PID", what="set without a target")
        expect(numakeep("set", "-i", "0", "--cgroup", "/app", str(pid), env=env), 1, "not both",
               what="set with PIDs and --cgroup")
        expect(numakeep("set", "-i", "0", "--range=5", str(pid), env=env), 1, "bad --range",
               what="set with a bad --range")
        expect(numakeep("set", "-i", "0", "--task", "--range=0x1000-0x2000", str(pid), env=env), 1,
               "--range goes with", what="set --task --range")
        expect(numakeep("set", "-i", "0", "-m", "0", str(pid), env=env), 1, "conflicting policies",
               what="set with two policies")
        expect(numakeep("set", "-i", "x", str(pid), env=env), 1, "bad node list",
               what="set with a bad node list")
        r = numakeep("set", "--help")
        check(r.returncode == 0 and "--cgroup PATH" in r.stdout and "Exit status" in r.stdout,
              "set --help documents usage and exit codes")
        if os.geteuid() == 0 and shutil.which("setpriv"):
            cli = os.path.join(tmp, "numakeep")
            shutil.copy(NUMAKEEP, cli)
            os.chmod(cli, 0o755)
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                "--inh-caps=-all", "--bounding-set=-all", cli, "set", "-i", "0",
                                str(pid)], env=dict(os.environ, **env), capture_output=True,
                               text=True, timeout=30)
            expect(r, 4, "belongs to another user", what="set on another user's process")
            check("refused: permission denied" in daemon.log(), "the refusal is in the daemon's log")
        else:
            print("not root or no setpriv: permission case not checked")
        st = load(numakeep("status", "--json", env=env), "status after sets")
        check(st["counters"]["sets"] >= 6, f"status counts the sets ({st['counters']['sets']})")
        log = daemon.log()
        check(f"set by pid" in log and f"pid {pid}" in log and "took it" in log,
              "one audit line per set in the daemon's log")
    finally:
        if target:
            open(os.path.join(work, "quit"), "w").close()
            try:
                target.wait(timeout=5)
            except subprocess.TimeoutExpired:
                target.kill()
                target.wait()
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {"numactl-parity": case_numactl_parity, "json-schema": case_json_schema,
         "errors": case_errors, "tables": case_tables, "run": case_run,
         "real-daemon": case_real_daemon, "set": case_set}
CASES[CASE]()
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
