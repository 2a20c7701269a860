#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""`stratum monitor` sweeps, serve and its alarms, and faults, against the test responder
(tests/monitor/responder.c: thousands of simulated devices at 127.x.y.z on one port) on
SQLite and on a throwaway PostgreSQL (tests/monitor/pg.py). Alarms are collected by
tests/monitor/syslog5424.py's Listener and by a real rsyslogd. Every process this script
starts is stopped by its PID; a network namespace, a tmpfs mount and temporary directories
it makes are removed at the end. Nothing here asserts on timing: waits are generous upper
bounds that only decide when to give up.

Usage: monitor_sweep.py STRATUM RESPONDER CASE [sqlite|pg]    (CASE 'list' lists them)
Exit: 0 pass, 1 fail, 77 skipped.

Cases: statuses, many_devices, name_unresolvable, serve_alarms_udp, serve_alarms_tcp,
serve_rsyslog, two_monitors_pg, kill9, sigterm_sweep, locked_db, disk_full, hostile.
"""
import collections
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg  # noqa: E402
import syslog5424  # noqa: E402

STRATUM = None
RESPONDER = None
STATUSES = ("ok", "unreachable", "kod", "unsynchronized", "bad_response")
SANITIZER_RE = re.compile(r"Sanitizer|runtime error:|LeakSanitizer")


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def fail(what):
    raise Failure(what)


def check(cond, what):
    if not cond:
        fail(what() if callable(what) else what)


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- the test's resources

class Work:
    """The temporary directory, and everything to undo at the end, newest first."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="stratum-monsweep-")
        self._undo = []
        self.procs = []      # (name, Popen, stderr path) checked for sanitizer reports
        self.keep = False

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def later(self, fn):
        self._undo.append(fn)

    def undo(self):
        while self._undo:
            fn = self._undo.pop()
            try:
                fn()
            except Exception as e:  # cleanup goes on
                log("cleanup: %s" % e)

    def close(self):
        self.undo()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


W = None


def stop_proc(p, sig=signal.SIGTERM, wait=10):
    """Ends one of our processes by its PID."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def spawn(name, argv, **kw):
    """Popen with stderr to a file of the work directory; stopped at the end by PID."""
    errpath = W.path("%s.%d.stderr" % (name, len(W.procs)))
    errf = open(errpath, "w")
    p = subprocess.Popen(argv, stderr=errf, **kw)
    errf.close()
    W.procs.append((name, p, errpath))
    W.later(lambda: stop_proc(p))
    return p, errpath


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def sanitizer_check():
    for name, p, errpath in W.procs:
        text = read(errpath)
        if SANITIZER_RE.search(text):
            fail("%s (pid %d) reported a sanitizer error:\n%s" % (name, p.pid, text))


def free_port(kind=socket.SOCK_DGRAM, addr="127.0.0.1"):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def wait_for(cond, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("gave up after %g s waiting for %s" %
                 (timeout, what() if callable(what) else what))
        time.sleep(step)


# ---------------------------------------------------------------- the responder

class Responder:
    """stratum-responder with a spec; port 0 picks one. netns: run it inside."""
    count = 0

    def __init__(self, spec, port=0, seed=1, netns=None):
        Responder.count += 1
        k = Responder.count
        self.spec_path = W.path("spec%d" % k)
        with open(self.spec_path, "w") as f:
            f.write(spec)
        self.pidfile = W.path("responder%d.pid" % k)
        self.stats_path = W.path("responder%d.stats" % k)
        argv = [RESPONDER, "--port", str(port), "--spec", self.spec_path, "--pidfile",
                self.pidfile, "--stats", self.stats_path, "--seed", str(seed)]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv  # ip execs it: the same PID
        self.proc, self.errpath = spawn("responder%d" % k, argv, stdout=subprocess.PIPE)
        if port == 0:
            r, _, _ = select.select([self.proc.stdout], [], [], 30)
            line = self.proc.stdout.readline().decode() if r else ""
            m = re.match(r"port (\d+)$", line.strip())
            check(m, lambda: "the responder said %r, not 'port N':\n%s" %
                  (line, read(self.errpath)))
            self.port = int(m.group(1))
        else:
            self.port = port
        wait_for(lambda: os.path.exists(self.pidfile) or self.proc.poll() is not None, 30,
                 "the responder's pidfile")
        check(self.proc.poll() is None,
              lambda: "the responder exited %s:\n%s" % (self.proc.returncode, read(self.errpath)))

    def stats(self):
        """Its counters (written on SIGUSR1 and at exit)."""
        out = {}
        for line in read(self.stats_path).splitlines():
            k, _, v = line.partition(" ")
            out[k] = int(v)
        return out

    def stop(self):
        stop_proc(self.proc)
        self.proc.stdout.close()


# ---------------------------------------------------------------- the database

class Db:
    """A fresh monitor database: kind 'sqlite' (a file in the work directory) or 'pg'."""

    def __init__(self, kind, name="monitor.db", directory=None):
        self.kind = kind
        if kind == "sqlite":
            self.url = os.path.join(directory or W.dir, name)
        else:
            try:
                cm = pg.postgres()
                self.url = cm.__enter__()
            except pg.PostgresNotFound as e:
                raise Skip(str(e))
            W.later(lambda: cm.__exit__(None, None, None))

    def q(self, sql):
        """Rows of a query, as tuples (ints and floats as such; NULL as None)."""
        if self.kind == "sqlite":
            c = sqlite3.connect(self.url, timeout=30)
            try:
                return [tuple(r) for r in c.execute(sql).fetchall()]
            finally:
                c.close()
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-P", "null=\\N", "-c", sql, self.url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        check(r.returncode == 0, lambda: "psql %r failed: %s" % (sql, r.stderr))
        rows = []
        for line in r.stdout.splitlines():
            rows.append(tuple(_pg_value(v) for v in line.split("\t")))
        return rows

    def one(self, sql):
        rows = self.q(sql)
        check(len(rows) == 1 and len(rows[0]) == 1, "%r gave %r, not one value" % (sql, rows))
        return rows[0][0]

    def counts(self):
        return (self.one("SELECT COUNT(*) FROM device"), self.one("SELECT COUNT(*) FROM sweep"),
                self.one("SELECT COUNT(*) FROM result"))

    def consistent(self, what):
        """Integrity (SQLite), every result's device and sweep exist, every sweep's device
        count is its number of result rows, at most one result per device and sweep."""
        if self.kind == "sqlite":
            ic = self.q("PRAGMA integrity_check")
            check(ic == [("ok",)], "%s: integrity_check says %r" % (what, ic))
            fk = self.q("PRAGMA foreign_key_check")
            check(fk == [], "%s: foreign_key_check says %r" % (what, fk))
        orphans = self.one("SELECT COUNT(*) FROM result r WHERE NOT EXISTS (SELECT 1 FROM "
                           "device d WHERE d.id = r.device_id) OR NOT EXISTS (SELECT 1 FROM "
                           "sweep s WHERE s.id = r.sweep_id)")
        check(orphans == 0, "%s: %d result rows without their device or sweep" % (what, orphans))
        bad = self.q("SELECT s.id, s.state, s.devices, (SELECT COUNT(*) FROM result r WHERE "
                     "r.sweep_id = s.id) AS n FROM sweep s WHERE s.devices <> (SELECT COUNT(*) "
                     "FROM result r WHERE r.sweep_id = s.id)")
        check(bad == [], "%s: sweeps whose device count is not their result rows "
                         "(id, state, devices, rows): %r" % (what, bad))
        dup = self.one("SELECT COUNT(*) FROM (SELECT device_id, sweep_id FROM result GROUP BY "
                       "device_id, sweep_id HAVING COUNT(*) > 1) x")
        check(dup == 0, "%s: %d devices with two results in one sweep" % (what, dup))


def _pg_value(v):
    if v == "\\N":
        return None
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


# ---------------------------------------------------------------- the monitor

class Result:
    def __init__(self, argv, rc, out, err, elapsed):
        self.argv, self.rc, self.out, self.err, self.elapsed = argv, rc, out, err, elapsed

    def __str__(self):
        return "$ %s\nexit %s (%.1f s)\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.argv), self.rc, self.elapsed, self.out, self.err)

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            fail("stdout is not JSON (%s):\n%s" % (e, self))


def mon(db, *args, netns=None, timeout=150, expect=None):
    argv = [STRATUM, "monitor", "--db", db.url] + [str(a) for a in args]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    res = Result(argv, r.returncode, r.stdout.decode("utf-8", "replace"),
                 r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)
    check(not SANITIZER_RE.search(res.err), lambda: "sanitizer report:\n%s" % res)
    if expect is not None:
        check(res.rc == expect, lambda: "exit %s, want %d:\n%s" % (res.rc, expect, res))
    return res


def mon_argv(db, *args):
    return [STRATUM, "monitor", "--db", db.url] + [str(a) for a in args]


def import_devices(db, rows, probe=None):
    """rows: (host, port, name) or (host, port, name, probe); one CSV import."""
    path = W.path("devices-%d.csv" % len(os.listdir(W.dir)))
    with open(path, "w") as f:
        f.write("host,port,name,probe\n")
        for r in rows:
            f.write("%s,%d,%s,%s\n" % (r[0], r[1], r[2], r[3] if len(r) > 3 else (probe or "ntp")))
    r = mon(db, "import", path, expect=0)
    check(("imported %d device" % len(rows)) in r.out, lambda: "import said:\n%s" % r)


def listing(db, *extra):
    """`list --json` as {name: entry}."""
    doc = mon(db, "list", "--json", *extra, expect=0).json()
    out = {}
    for e in doc["list"]:
        out[e["name"]] = e
    check(len(out) == doc["devices"], "list: %d entries, devices %d" % (len(out), doc["devices"]))
    return doc, out


def addr_v4(i, second):
    """The i-th device of a block: 127.SECOND.(i // 250).(i % 250 + 1)."""
    return "127.%d.%d.%d" % (second, i // 250, i % 250 + 1)


def addr_int(a):
    return int.from_bytes(socket.inet_aton(a), "big")


def spread_offset(seed, addr, spread, base=0.0):
    """The responder's offset=spread:A for one address (device_offset, splitmix64)."""
    m = (1 << 64) - 1
    x = ((seed * 0x2545F4914F6CDD1D) & m) ^ addr_int(addr)
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z ^= z >> 31
    u = (z >> 11) * 2.0 ** -53
    return base + spread * (2.0 * u - 1.0)


def result_rows(db, sweep_id):
    """{device name: (status, offset, delay, error)} of one sweep."""
    rows = db.q("SELECT d.name, r.status, r.offset_s, r.delay_s, r.error FROM result r JOIN "
                "device d ON d.id = r.device_id WHERE r.sweep_id = %d" % sweep_id)
    return {r[0]: r[1:] for r in rows}


def one_result_each(db, sweep_id, n):
    """Every device has exactly one result of sweep_id, and there are n devices."""
    total, distinct = db.q("SELECT COUNT(*), COUNT(DISTINCT device_id) FROM result WHERE "
                           "sweep_id = %d" % sweep_id)[0]
    missing = db.one("SELECT COUNT(*) FROM device d WHERE NOT EXISTS (SELECT 1 FROM result r "
                     "WHERE r.device_id = d.id AND r.sweep_id = %d)" % sweep_id)
    ndev = db.one("SELECT COUNT(*) FROM device")
    check(ndev == n, "%d devices in the inventory, want %d" % (ndev, n))
    check(total == n and distinct == n and missing == 0,
          "sweep %d: %d results for %d distinct devices, %d devices without one (want %d each)"
          % (sweep_id, total, distinct, missing, n))


def sweep_json(db, *extra, expect=0, netns=None):
    r = mon(db, "sweep", "--json", "--reference", "none", *extra, netns=netns, expect=expect)
    doc = r.json()
    return r, doc


def printable(s):
    return s is None or all(0x20 <= ord(ch) < 0x7F for ch in s)


# ---------------------------------------------------------------- 1. statuses

GARBAGE_SEED = 5  # the responder's RNG with this seed: see t_statuses


def t_statuses(kind):
    """One device of each behaviour; the sweep's JSON and `list --json` agree with the
    spec: offsets within 0.02 s, kiss codes named, a reply from the wrong address never
    accepted, ICMP port unreachable is unreachable, ::1 works."""
    db = Db(kind)
    main = Responder("127.2.0.1 offset=0.001\n"
                     "127.2.0.2 offset=0.25\n"
                     "127.2.0.3 offset=-3\n"
                     "127.2.0.4 silent\n"
                     "127.2.0.5 kod=RATE\n"
                     "127.2.0.6 kod=DENY\n"
                     "127.2.0.7 unsync\n"
                     "127.2.0.10 wrongsrc\n"   # answers from 127.2.0.11: no device there
                     "127.2.0.12 delay=300\n"
                     "127.2.0.13 loss=0.5\n"
                     "::1 offset=0.002\n")
    # ntp=garbage on a responder of its own: its RNG then serves this device alone, so
    # with a fixed seed its sequence of malformed answers is always the same.
    garbage = Responder("127.2.0.8 ntp=garbage\n", seed=GARBAGE_SEED)
    dead = free_port()
    p = main.port
    devs = [("127.2.0.1", p, "st-ok"), ("127.2.0.2", p, "st-ahead"),
            ("127.2.0.3", p, "st-behind"), ("127.2.0.4", p, "st-silent"),
            ("127.2.0.5", p, "st-rate"), ("127.2.0.6", p, "st-deny"),
            ("127.2.0.7", p, "st-unsync"), ("127.2.0.8", garbage.port, "st-garbage"),
            ("127.2.0.10", p, "st-wrongsrc"), ("127.2.0.12", p, "st-delay"),
            ("127.2.0.13", p, "st-loss"), ("127.0.0.1", dead, "st-dead")]
    v6 = have_ipv6()
    for h, port, name in devs:
        mon(db, "add", "%s:%d" % (h, port), "--name", name, expect=0)
    if v6:
        mon(db, "add", "[::1]:%d" % p, "--name", "st-v6", expect=0)
    n = len(devs) + (1 if v6 else 0)
    r, doc = sweep_json(db)
    check(doc["devices"] == n and doc["completed"] == n, "sweep JSON: %r" % doc)
    ldoc, lst = listing(db)
    check(len(lst) == n, "list has %d devices, want %d" % (len(lst), n))

    def expect(name, status, offset=None, err=None, level=None):
        e = lst[name]
        res = e["result"]
        check(res is not None, "%s: no result: %r" % (name, e))
        check(res["status"] == status, "%s: status %s, want %s: %r" % (name, res["status"],
                                                                         status, e))
        if offset is not None:
            check(res["offset"] is not None and abs(res["offset"] - offset) <= 0.02,
                  "%s: offset %r, want %g +- 0.02" % (name, res["offset"], offset))
        else:
            check(res["offset"] is None, "%s: an offset without an answer: %r" % (name, e))
        if err is not None:
            check(res["error"] is not None and re.search(err, res["error"]),
                  "%s: error %r does not match %r" % (name, res["error"], err))
        if level is not None:
            check(e["level"] == level, "%s: level %s, want %s" % (name, e["level"], level))

    expect("st-ok", "ok", 0.001, level="ok")
    expect("st-ahead", "ok", 0.25, level="warning")
    expect("st-behind", "ok", -3, level="critical")
    expect("st-silent", "unreachable", err=r"^no answer to 3 requests$", level="critical")
    expect("st-rate", "kod", err=r"\bRATE\b", level="critical")
    expect("st-deny", "kod", err=r"\bDENY\b", level="critical")
    expect("st-unsync", "unsynchronized", err="not synchronized", level="critical")
    # Seed 5: the malformed answers are rejected and one of them decides (never 'ok').
    expect("st-garbage", "bad_response", err=r"unusable answer", level="critical")
    expect("st-wrongsrc", "unreachable", err=r"^no answer to", level="critical")
    expect("st-delay", "ok", 0.0, level="ok")
    expect("st-dead", "unreachable", err=r"^ICMP: ", level="critical")
    if v6:
        expect("st-v6", "ok", 0.002, level="ok")
    loss = lst["st-loss"]["result"]["status"]
    check(loss in ("ok", "unreachable"), "st-loss: status %s" % loss)
    # The sweep's counts are the list's.
    got = collections.Counter(e["result"]["status"] for e in lst.values())
    want = {s: got.get(s, 0) for s in STATUSES}
    check(doc["by_status"] == want, "sweep by_status %r, list says %r" % (doc["by_status"], want))
    # The responder saw the wrong-source device's requests and answered them (from .11).
    os.kill(main.proc.pid, signal.SIGUSR1)
    st = wait_for(lambda: main.stats().get("answered_wrongsrc", 0) > 0 and main.stats(), 10,
                  "the responder's stats")
    check(st["answered_wrongsrc"] >= 1, "stats %r" % st)
    one_result_each(db, doc["sweep"], n)
    db.consistent("after the sweep")
    st = db.q("SELECT state, devices FROM sweep WHERE id = %d" % doc["sweep"])
    check(st == [("done", n)], "sweep row %r" % st)


# ---------------------------------------------------------------- 2. many devices

def t_many_devices(kind):
    """5,000 devices by CSV: 50 silent, 20 kiss-o'-death, 30 unsynchronized, the rest
    offset=spread:0.05: exact counts, one result each, every offset the responder's."""
    db = Db(kind)
    seed = 11
    resp = Responder("127.3.0.0/16 offset=spread:0.05\n"
                     "127.3.0.1-127.3.0.50 silent\n"
                     "127.3.0.51-127.3.0.70 kod=RATE\n"
                     "127.3.0.71-127.3.0.100 unsync\n", seed=seed)
    n = 5000
    addrs = [addr_v4(i, 3) for i in range(n)]
    import_devices(db, [(a, resp.port, "m-%05d" % i) for i, a in enumerate(addrs)])
    r, doc = sweep_json(db, "--rate", "5000")
    want = {"ok": 4900, "unreachable": 50, "kod": 20, "unsynchronized": 30, "bad_response": 0}
    check(doc["devices"] == n and doc["completed"] == n, "sweep JSON %r" % doc)
    check(doc["by_status"] == want, "by_status %r, want %r" % (doc["by_status"], want))
    sid = doc["sweep"]
    one_result_each(db, sid, n)
    bydb = dict(db.q("SELECT status, COUNT(*) FROM result WHERE sweep_id = %d GROUP BY status"
                     % sid))
    check({s: bydb.get(s, 0) for s in STATUSES} == want, "the database's counts %r" % bydb)
    rows = db.q("SELECT d.host, r.status, r.offset_s, r.delay_s FROM result r JOIN device d ON "
                "d.id = r.device_id WHERE r.sweep_id = %d" % sid)
    special = {}
    for k in range(1, 101):
        special["127.3.0.%d" % k] = ("unreachable" if k <= 50 else "kod" if k <= 70
                                     else "unsynchronized")
    worst = 0.0
    for host, status, off, delay in rows:
        wst = special.get(host, "ok")
        check(status == wst, "%s: status %s, want %s" % (host, status, wst))
        if status != "ok":
            check(off is None, "%s: %s with an offset %r" % (host, status, off))
            continue
        check(abs(off) <= 0.06, "%s: offset %r beyond 0.06 s" % (host, off))
        # The measured offset is within half the round trip of the true one (t1 <= t2 <=
        # t3 <= t4 holds on one machine): a check of the arithmetic, not of the timing.
        exp = spread_offset(seed, host, 0.05)
        err = abs(off - exp)
        worst = max(worst, err)
        check(err <= delay / 2 + 1e-5, "%s: offset %.9f, the responder's %.9f, delay %.9f"
              % (host, off, exp, delay))
    log("many_devices: %d devices in %.2f s, worst offset error %.6f s" %
        (n, doc["wall_seconds"], worst))
    db.consistent("after the sweep")


# ---------------------------------------------------------------- 3. a name that does not resolve

def netns_create():
    name = "stratum-t2-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        raise Skip("cannot make a network namespace (ip netns add): %s" % r.stdout.strip())
    W.later(lambda: subprocess.run(["ip", "netns", "del", name]))
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    links = subprocess.run(["ip", "netns", "exec", name, "ip", "-o", "link"],
                           stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    names = re.findall(r"^\d+: ([^:@]+)", links, re.M)
    check(names == ["lo"], "the namespace has links %r, want lo alone" % names)
    return name


def t_name_unresolvable(kind):
    """A host name that does not resolve is that device's result (unreachable, 'name does
    not resolve'); the others of the sweep are ok. In a network namespace with lo alone,
    so the resolver fails here and no DNS query leaves the machine."""
    ns = netns_create()
    db = Db(kind)
    resp = Responder("127.5.0.0/24 offset=0.002\n", netns=ns)
    p = resp.port
    for k in (1, 2, 3):
        mon(db, "add", "127.5.0.%d:%d" % (k, p), "--name", "good-%d" % k, expect=0)
    mon(db, "add", "no-such-device.invalid:%d" % p, "--name", "ghost", expect=0)
    r, doc = sweep_json(db, netns=ns)
    want = {"ok": 3, "unreachable": 1, "kod": 0, "unsynchronized": 0, "bad_response": 0}
    check(doc["by_status"] == want, "by_status %r, want %r:\n%s" % (doc["by_status"], want, r))
    _, lst = listing(db)
    g = lst["ghost"]
    check(g["host"] == "no-such-device.invalid:%d" % p, "ghost host %r" % g["host"])
    check(g["result"]["status"] == "unreachable", "ghost %r" % g)
    check(re.match(r"name no-such-device\.invalid does not resolve: \S",
                   g["result"]["error"] or ""),
          "ghost's error %r" % g["result"]["error"])
    for k in (1, 2, 3):
        res = lst["good-%d" % k]["result"]
        check(res["status"] == "ok" and abs(res["offset"] - 0.002) <= 0.02, "good-%d %r" % (k, res))
    one_result_each(db, doc["sweep"], 4)
    resp.stop()


# ---------------------------------------------------------------- 4. serve and its alarms

SWEEP_LINE = re.compile(r"MON: sweep (\d+): (\d+) devices in \S+ s, (\d+) ok, (\d+) alarms?")


class Serve:
    """`stratum monitor serve` in the background, its standard error in a file."""

    def __init__(self, db, *args):
        self.proc, self.errpath = spawn("serve", mon_argv(db, "serve", *args),
                                        stdout=subprocess.DEVNULL)

    def log(self):
        return read(self.errpath)

    def sweeps(self):
        """[(sweep id, alarms)] of the summary lines so far."""
        return [(int(m.group(1)), int(m.group(4))) for m in SWEEP_LINE.finditer(self.log())]

    def wait_sweeps(self, n, timeout=60):
        wait_for(lambda: self.alive() and len(self.sweeps()) >= n, timeout,
                 lambda: "%d sweep lines from serve:\n%s" % (n, self.log()))

    def alive(self):
        check(self.proc.poll() is None,
              lambda: "serve exited %s:\n%s" % (self.proc.returncode, self.log()))
        return True

    def pause(self):
        """SIGSTOP, and wait until it is stopped: it sends nothing while the responder
        changes (a request to a port nobody holds would be refused: unreachable)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

        def stopped():
            with open("/proc/%d/stat" % self.proc.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        wait_for(stopped, 10, "serve to stop")

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)


def restart_responder(old, spec, serve):
    serve.pause()
    port = old.port
    old.stop()
    new = Responder(spec, port=port)
    serve.resume()
    return new


def alarm_checks(listener, k, kind, offset, severity):
    m = listener.messages[k]
    sd = m["sd"].get("stratum@32473")
    check(sd is not None, "no stratum@32473 structured data: %r" % m)
    check(m["msgid"] == kind and m["app"] == "stratum-monitor", "message %d: %r" % (k, m))
    check(sd.get("device") == "dev-a", "device %r" % sd)
    check(m["severity"] == severity and m["facility"] == 3, "PRI of %r" % m)
    check(sd.get("status") == ("offset" if kind == "enter" else "ok"), "status %r" % sd)
    check(abs(float(sd.get("offset", "nan")) - offset) <= 0.02, "offset %r, want %g" % (sd, offset))
    check("dev-a" in (m["msg"] or ""), "MSG %r" % m["msg"])


def t_serve_alarms(kind, proto):
    """serve --interval 1 with a remote syslog (Listener) and a hook: a device whose
    offset goes to 0.5 s raises one 'enter' however many sweeps see it, one 'leave' when
    it is back; one hook run per event with the event's JSON; SIGHUP reopens and goes
    on; SIGTERM ends it with status 0."""
    db = Db(kind)
    base = "127.4.0.0/24 offset=0.001\n"
    resp = Responder(base)
    p = resp.port
    mon(db, "add", "127.4.0.1:%d" % p, "--name", "dev-a", expect=0)
    mon(db, "add", "127.4.0.2:%d" % p, "--name", "dev-b", expect=0)
    hooks = W.path("hooks")
    os.mkdir(hooks)
    listener = syslog5424.Listener(proto)
    W.later(listener.close)
    hook = "cat > %s/$STRATUM_DEVICE.$(date +%%s%%N).json" % hooks
    serve = Serve(db, "--interval", "1", "--remote", listener.url(), "--hook", hook,
                  "--reference", "none")
    serve.wait_sweeps(2)
    check(listener.messages == [] and os.listdir(hooks) == [],
          lambda: "alarms while every device is standard: %r %r" % (listener.messages,
                                                                    os.listdir(hooks)))
    # dev-a goes 0.5 s ahead: not standard (a warning).
    resp = restart_responder(resp, base + "127.4.0.1 offset=0.5\n", serve)
    check(listener.wait(1, 60), lambda: "no enter alarm:\n%s" % serve.log())
    wait_for(lambda: [sid for sid, a in serve.sweeps() if a > 0], 60,
             lambda: "the summary of the sweep that alarmed:\n" + serve.log())
    alarmed = [sid for sid, a in serve.sweeps() if a > 0]
    check(len(alarmed) == 1, lambda: "sweeps with alarms: %r\n%s" % (alarmed, serve.log()))
    first = [sid for sid, _ in serve.sweeps()].index(alarmed[0])
    serve.wait_sweeps(first + 3)  # two more sweeps after the one that alarmed
    check(len(listener.messages) == 1 and listener.errors == [],
          lambda: "after two more sweeps: %r, errors %r" % (listener.messages, listener.errors))
    alarm_checks(listener, 0, "enter", 0.5, 4)
    # Back to standard.
    resp = restart_responder(resp, base, serve)
    check(listener.wait(2, 60), lambda: "no leave alarm:\n%s" % serve.log())
    wait_for(lambda: len([sid for sid, a in serve.sweeps() if a > 0]) == 2, 60,
             lambda: "the summary of the sweep that alarmed:\n" + serve.log())
    alarmed = [sid for sid, a in serve.sweeps() if a > 0]
    check(len(alarmed) == 2 and all(a == 1 for _, a in serve.sweeps() if a), lambda: serve.log())
    serve.wait_sweeps([sid for sid, _ in serve.sweeps()].index(alarmed[1]) + 3)
    check(len(listener.messages) == 2 and listener.errors == [],
          lambda: "after two more sweeps: %r, errors %r" % (listener.messages, listener.errors))
    alarm_checks(listener, 1, "leave", 0.001, 5)
    text = serve.log()
    check(len(re.findall(r"MON: dev-a is not standard", text)) == 1 and
          len(re.findall(r"MON: dev-a is standard again", text)) == 1 and "dev-b" not in text,
          lambda: "serve's log lines:\n" + text)
    if proto == "tcp":
        check(listener.connections >= 1, "no TCP connection")
    # The hook: once per event, the event as JSON on its standard input.
    files = sorted(os.listdir(hooks), key=lambda f: int(f.split(".")[1]))
    check(len(files) == 2 and all(re.match(r"dev-a\.\d+\.json$", f) for f in files),
          "hook files %r" % files)
    evs = []
    for f in files:
        with open(os.path.join(hooks, f)) as fh:
            text = fh.read()
        try:
            evs.append(json.loads(text))
        except ValueError as e:
            fail("hook file %s is not JSON (%s): %r" % (f, e, text))
        check(text.endswith("}\n") and text.count("\n") == 1, "one line of JSON: %r" % text)
    for ev, kind_, off, sev, status in ((evs[0], "enter", 0.5, "warning", "offset"),
                                        (evs[1], "leave", 0.001, "ok", "ok")):
        check(ev["schema_version"] == 1 and ev["kind"] == kind_ and ev["device"] == "dev-a" and
              ev["severity"] == sev and ev["status"] == status and
              ev["host"] == "127.4.0.1:%d" % p and ev["group"] == "" and
              isinstance(ev["sweep_id"], int) and isinstance(ev["time_unix_ms"], int) and
              ev["threshold_warn"] == 0.1 and ev["threshold_crit"] == 1 and
              abs(ev["offset"] - off) <= 0.02 and ev["detail"], "hook event %r" % ev)
    # SIGHUP: a reload line, then it sweeps on (and alarms nothing new).
    os.kill(serve.proc.pid, signal.SIGHUP)
    wait_for(lambda: "MON: SIGHUP: reopening" in serve.log(), 30,
             lambda: "a reload line:\n" + serve.log())
    n = len(serve.sweeps())
    serve.wait_sweeps(n + 2)
    check(len(listener.messages) == 2 and len(os.listdir(hooks)) == 2,
          lambda: "alarms after SIGHUP: %r" % listener.messages)
    # SIGTERM: exits 0 (the wait is an upper bound, not a measurement).
    os.kill(serve.proc.pid, signal.SIGTERM)
    try:
        rc = serve.proc.wait(30)
    except subprocess.TimeoutExpired:
        fail("serve still running 30 s after SIGTERM:\n" + serve.log())
    check(rc == 0, lambda: "serve exited %d after SIGTERM:\n%s" % (rc, serve.log()))
    check("MON: stopping (signal)" in serve.log(), lambda: "no stopping line:\n" + serve.log())
    db.consistent("after serve")
    levels = dict(db.q("SELECT name, alarm_level FROM device"))
    check(levels == {"dev-a": 0, "dev-b": 0}, "alarm levels %r" % levels)


# ---------------------------------------------------------------- 5. rsyslog

def t_serve_rsyslog(kind):
    """The alarm as a real rsyslogd (imudp on loopback, omfile) records it: MSGID enter,
    APP-NAME stratum-monitor, the device's name in the structured data and the text."""
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.access(rsyslogd, os.X_OK):
        raise Skip("rsyslogd is not installed")
    db = Db(kind)
    rw = W.path("rsyslog")
    os.mkdir(rw)
    port = free_port()
    out = os.path.join(rw, "messages.log")
    conf = os.path.join(rw, "rsyslog.conf")
    with open(conf, "w") as f:
        f.write('global(workDirectory="%s")\n'
                'module(load="imudp")\n'
                'input(type="imudp" address="127.0.0.1" port="%d")\n'
                'template(name="t" type="string" string="app=%%app-name%% msgid=%%msgid%% '
                'sev=%%syslogseverity-text%% fac=%%syslogfacility-text%% '
                'sd=%%structured-data%% msg=%%msg%%\\n")\n'
                '*.* action(type="omfile" file="%s" template="t")\n' % (rw, port, out))
    rs, rs_err = spawn("rsyslogd", [rsyslogd, "-n", "-f", conf, "-i",
                                    os.path.join(rw, "rsyslogd.pid")], stdout=subprocess.DEVNULL)
    # Ready when a probe datagram reaches the file.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    k = [0]

    def ready():
        check(rs.poll() is None, lambda: "rsyslogd exited %s:\n%s" % (rs.returncode, read(rs_err)))
        k[0] += 1
        s.sendto(b"<14>1 - - probe - ready - probe %d" % k[0], ("127.0.0.1", port))
        time.sleep(0.1)
        return "msgid=ready" in read(out)
    wait_for(ready, 30, lambda: "rsyslogd to write a probe:\n" + read(rs_err))
    s.close()
    resp = Responder("127.4.0.1 offset=0.5\n")
    mon(db, "add", "127.4.0.1:%d" % resp.port, "--name", "cam-rs", expect=0)
    r = mon(db, "serve", "--once", "--remote", "udp://127.0.0.1:%d" % port, "--reference", "none",
            expect=0)
    check("MON: cam-rs is not standard" in r.err, lambda: "serve said:\n%s" % r)
    line = wait_for(lambda: [l for l in read(out).splitlines() if "msgid=enter" in l], 30,
                    lambda: "the alarm in rsyslog's file:\n" + read(out))
    check(len(line) == 1, "alarm lines %r" % line)
    line = line[0]
    check(line.startswith("app=stratum-monitor msgid=enter sev=warning fac=daemon sd=["
                          "stratum@32473 ") and 'device="cam-rs"' in line and
          'status="offset"' in line and re.search(r" msg=.*cam-rs", line), "the line: %r" % line)
    m = re.search(r'offset="([-+0-9.]+)"', line)
    check(m and abs(float(m.group(1)) - 0.5) <= 0.02, "offset in %r" % line)


# ---------------------------------------------------------------- 6. two monitors, one PostgreSQL

def t_two_monitors_pg(kind):
    """Two sweeps started together on one PostgreSQL, each leasing 100 devices at a time
    (--lease), split the fleet: each device has exactly one result across the two, both
    monitors probed some (3 s of work each alone), both exit 0."""
    db = Db(kind)
    resp = Responder("127.6.0.0/16 offset=0.004\n")
    n = 3000
    import_devices(db, [(addr_v4(i, 6), resp.port, "two-%04d" % i) for i in range(n)])
    argv = mon_argv(db, "sweep", "--rate", "1000", "--lease", "100", "--json", "--reference",
                    "none")
    procs = []
    for k in range(2):
        outp = W.path("two%d.out" % k)
        with open(outp, "w") as o:
            p, errp = spawn("sweep%d" % k, argv, stdout=o)
        procs.append((p, outp, errp))
    docs = []
    for p, outp, errp in procs:
        try:
            rc = p.wait(150)
        except subprocess.TimeoutExpired:
            fail("a sweep did not end")
        check(rc == 0, lambda: "a sweep exited %d:\n%s%s" % (rc, read(outp), read(errp)))
        try:
            docs.append(json.loads(read(outp)))
        except ValueError:
            fail("not JSON:\n%s\n%s" % (read(outp), read(errp)))
    split = [d["devices"] for d in docs]
    log("two_monitors_pg: the devices went %r" % split)
    check(sum(split) == n and all(d["completed"] == d["devices"] for d in docs),
          "the sweeps had %r devices (want %d in all)" % (split, n))
    check(min(split) > 0, "one monitor did all the work: %r" % split)
    check(sum(d["by_status"]["ok"] for d in docs) == n,
          "by_status %r" % [d["by_status"] for d in docs])
    total, distinct = db.q("SELECT COUNT(*), COUNT(DISTINCT device_id) FROM result")[0]
    check(total == n and distinct == n,
          "%d results for %d devices, want %d each" % (total, distinct, n))
    states = db.q("SELECT state, devices FROM sweep ORDER BY id")
    check(sorted(states) == sorted(("done", d) for d in split), "sweeps %r" % states)
    held = db.one("SELECT COUNT(*) FROM device WHERE lease_owner IS NOT NULL")
    check(held == 0, "%d devices still leased" % held)
    db.consistent("after two sweeps")


# ---------------------------------------------------------------- 7. kill -9

def t_kill9(kind):
    """A sweep killed with SIGKILL halfway leaves a consistent database: its results in
    whole transactions (the sweep's count is its rows), nothing dangling; the next sweep
    takes its devices back, probes all 20,000 and marks the killed one interrupted."""
    db = Db(kind)
    resp = Responder("127.7.0.0/16 offset=0.003\n")
    n = 20000
    import_devices(db, [(addr_v4(i, 7), resp.port, "k-%05d" % i) for i in range(n)])
    p, errp = spawn("sweep", mon_argv(db, "sweep", "--rate", "4000", "--reference", "none"),
                    stdout=subprocess.DEVNULL)
    time.sleep(2)
    # (and at least one batch written: the point is a kill between batches)
    wait_for(lambda: db.one("SELECT COUNT(*) FROM result") > 0, 60, "the first results")
    check(p.poll() is None, lambda: "the sweep ended before the kill (%s):\n%s" % (p.returncode,
                                                                                 read(errp)))
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    sid, state, devices = db.q("SELECT id, state, devices FROM sweep")[0]
    rows = db.one("SELECT COUNT(*) FROM result WHERE sweep_id = %d" % sid)
    log("kill9: killed with %d results written" % rows)
    check(state == "running" and devices == rows and 0 < rows < n,
          "the killed sweep: state %s, devices %d, %d result rows" % (state, devices, rows))
    held = db.one("SELECT COUNT(*) FROM device WHERE lease_owner IS NOT NULL")
    check(held == n, "%d devices leased by the dead sweep, want %d" % (held, n))
    db.consistent("after SIGKILL")
    r, doc = sweep_json(db)
    check(doc["devices"] == n and doc["completed"] == n and doc["by_status"]["ok"] == n,
          "the next sweep: %r" % doc)
    check(re.search(r"a sweep by process %d of this machine was interrupted" % p.pid, r.err),
          lambda: "no word of the dead sweep:\n%s" % r)
    states = db.q("SELECT id, state FROM sweep ORDER BY id")
    check(states == [(sid, "interrupted"), (doc["sweep"], "done")], "sweeps %r" % states)
    one_result_each(db, doc["sweep"], n)
    db.consistent("after the next sweep")


# ---------------------------------------------------------------- 8. SIGTERM

def t_sigterm_sweep(kind):
    """SIGTERM during a slow sweep: exit 143 soon after, 'interrupted: N of M devices
    probed', the N results in the database, nothing half written."""
    db = Db(kind)
    resp = Responder("127.8.0.0/16 offset=0.003\n")
    n = 3000
    import_devices(db, [(addr_v4(i, 8), resp.port, "t-%04d" % i) for i in range(n)])
    p, errp = spawn("sweep", mon_argv(db, "sweep", "--rate", "300", "--reference", "none"),
                    stdout=subprocess.PIPE)
    wait_for(lambda: db.one("SELECT COUNT(*) FROM result") > 0, 60, "the first results")
    check(p.poll() is None, "the sweep ended before SIGTERM")
    os.kill(p.pid, signal.SIGTERM)
    try:
        rc = p.wait(30)
    except subprocess.TimeoutExpired:
        fail("the sweep still runs 30 s after SIGTERM")
    out = p.stdout.read().decode()
    err = read(errp)
    # 128 + the signal's number, the shell's convention for a death by signal
    check(rc == 128 + signal.SIGTERM, "exit %d after SIGTERM:\n%s%s" % (rc, out, err))
    m = re.search(r"interrupted: (\d+) of %d devices probed, their results written" % n, err)
    check(m, "no interrupted message:\n" + err)
    k = int(m.group(1))
    sid, state, devices = db.q("SELECT id, state, devices FROM sweep")[0]
    rows = db.one("SELECT COUNT(*) FROM result WHERE sweep_id = %d" % sid)
    log("sigterm_sweep: %d of %d probed; the sweep row says %s" % (k, n, state))
    check(0 < k < n and rows == k and devices == k,
          "said %d probed; %d rows; the sweep's count %d" % (k, rows, devices))
    check(state == "interrupted", "the sweep's state is %s, want interrupted" % state)
    held = db.one("SELECT COUNT(*) FROM device WHERE lease_owner IS NOT NULL")
    check(held == 0, "%d devices still leased after the sweep ended" % held)
    db.consistent("after SIGTERM")
    r, doc = sweep_json(db)
    check(doc["devices"] == n and doc["completed"] == n, "the next sweep %r" % doc)


# ---------------------------------------------------------------- 9. a locked database

def t_locked_db(kind):
    """Another writer holds the SQLite file (BEGIN EXCLUSIVE): add and sweep wait the busy
    timeout, then exit 3 saying the database is locked, and write nothing."""
    db = Db(kind)
    resp = Responder("127.10.0.0/16 offset=0.001\n")
    for k in range(1, 11):
        mon(db, "add", "127.10.0.%d:%d" % (k, resp.port), expect=0)
    sweep_json(db)
    before = db.counts()
    lock = sqlite3.connect(db.url, timeout=0, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        # A reader is not blocked by the writer (WAL).
        doc = mon(db, "list", "--json", expect=0).json()
        check(doc["devices"] == 10, "list while locked: %r" % doc)
        for args in (("add", "127.10.0.99:%d" % resp.port), ("sweep", "--reference", "none"),
                     ("import", W.path("none.csv"))):
            if args[0] == "import":
                with open(args[1], "w") as f:
                    f.write("host\n127.10.0.98\n")
            r = mon(db, *args)
            check(r.rc == 3 and re.search(r"the database is locked", r.err),
                  lambda: "while locked:\n%s" % r)
            check(r.elapsed >= 4.0, lambda: "gave up before the 5 s busy timeout:\n%s" % r)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    check(db.counts() == before, "counts %r, before the lock %r" % (db.counts(), before))
    held = db.one("SELECT COUNT(*) FROM device WHERE lease_owner IS NOT NULL")
    check(held == 0, "%d leased" % held)
    mon(db, "add", "127.10.0.99:%d" % resp.port, expect=0)
    r, doc = sweep_json(db)
    check(doc["devices"] == 11 and doc["by_status"]["ok"] == 11, "after the lock: %r" % doc)
    db.consistent("after the lock")


# ---------------------------------------------------------------- 10. disk full

def private_mounts():
    """This process (and what it starts) in a mount namespace of its own, so the tmpfs
    goes away with it however it ends; the umount at the end stays the normal way."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        log("disk_full: no private mount namespace (%s): the tmpfs is visible outside"
            % os.strerror(ctypes.get_errno()))
        return
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


def t_disk_full(kind):
    """The database on a tmpfs that fills up: the sweep exits 3 saying the disk is full;
    with room again the database is consistent and a sweep works."""
    mnt = W.path("fs")
    os.mkdir(mnt)
    private_mounts()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        raise Skip("cannot mount a tmpfs (%s): not permitted here" % r.stdout.strip())
    W.later(lambda: subprocess.run(["umount", mnt]))
    db = Db(kind, directory=mnt)
    resp = Responder("127.11.0.0/16 offset=0.001\n")
    n = 3000
    import_devices(db, [(addr_v4(i, 11), resp.port, "f-%04d" % i) for i in range(n)])
    sweep_json(db)  # one sweep fits
    c = sqlite3.connect(db.url)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    filler = os.path.join(mnt, "filler")

    def fill(room_kb):
        """Fills the file system but room_kb."""
        if os.path.exists(filler):
            os.unlink(filler)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\1" * 65536) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        os.truncate(filler, max(0, os.path.getsize(filler) - room_kb * 1024))

    # Round 1, a little room: the lease of the devices does not fit; no device or result
    # is written (the sweep's own row may be, as interrupted).
    fill(64)
    before = db.counts()
    r = mon(db, "sweep", "--reference", "none")
    check(r.rc == 3 and
          re.search(r"cannot (start a sweep|lease the devices): the disk is full", r.err),
          lambda: "on a full disk:\n%s" % r)
    now = db.counts()
    check(now[0] == before[0] and now[2] == before[2] and now[1] - before[1] in (0, 1),
          "counts %r -> %r" % (before, now))
    # Round 2, more room: the lease fits, the sweep's results do not (all of them).
    fill(int(os.environ.get("DISK_FULL_ROOM", 512)))
    r = mon(db, "sweep", "--reference", "none")
    check(r.rc == 3 and re.search(r"the disk is full", r.err), lambda: "on a full disk:\n%s" % r)
    log("disk_full: %s" % r.err.strip().replace("\n", " | "))
    if "cannot write results" in r.err:
        check("results written before it are kept" in r.err, lambda: str(r))
    os.unlink(filler)
    subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
    db.consistent("after the disk filled up")
    after = db.counts()
    check(after[0] == before[0], "devices %r -> %r" % (before, after))
    r, doc = sweep_json(db)
    check(doc["devices"] == n and doc["completed"] == n and doc["by_status"]["ok"] == n,
          "the sweep with room again: %r" % doc)
    one_result_each(db, doc["sweep"], n)
    db.consistent("after the next sweep")
    states = [s for (s,) in db.q("SELECT state FROM sweep ORDER BY id")]
    check(states[0] == "done" and states[-1] == "done" and
          all(s in ("done", "interrupted") for s in states), "sweep states %r" % states)


# ---------------------------------------------------------------- 11. hostile answers

class Evil:
    """A UDP server on ADDR:port that answers every datagram with junk of random length
    (0 .. 2000 bytes), twice, and once more from another port. echo=True: the second
    answer looks like a reply (mode 4 with the request's transmit time as its origin, or
    a mode 6 response with its sequence number) with random fields."""

    def __init__(self, addr, echo=False, seed=7):
        self.rng = random.Random(seed)
        self.echo = echo
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.port = self.sock.getsockname()[1]
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind((addr, 0))
        self.stop = threading.Event()
        self.requests = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        W.later(self.close)

    def junk(self):
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 2000)))

    def lookalike(self, req):
        if len(req) >= 48 and req[0] & 7 == 3:
            b = bytearray(self.rng.getrandbits(8) for _ in range(48 + 4 * self.rng.randint(0, 8)))
            b[0] = (b[0] & 0xF8) | 4
            b[24:32] = req[40:48]
            return bytes(b)
        if len(req) >= 12 and req[0] & 7 == 6:
            b = bytearray(self.rng.getrandbits(8) for _ in range(12 + self.rng.randint(0, 500)))
            b[0] = req[0]
            b[1] = 0x80 | (req[1] & 0x1F) | (self.rng.getrandbits(2) << 5)
            b[2:4] = req[2:4]
            b[6:8] = req[6:8]
            return bytes(b)
        return self.junk()

    def run(self):
        self.sock.settimeout(0.05)
        while not self.stop.is_set():
            try:
                req, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.requests += 1
            try:
                self.sock.sendto(self.junk(), peer)
                self.sock.sendto(self.lookalike(req) if self.echo else self.junk(), peer)
                self.other.sendto(self.junk(), peer)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        self.other.close()


def t_hostile(kind):
    """Hostile answers, with the ntpq probe: oversized and malformed mode 6, malformed NTP,
    answers from the wrong address, and a server sending random junk (twice, and from
    another port): no crash, one result per device, the deterministic statuses right,
    every text the database and the JSON hold printable."""
    db = Db(kind)
    calm = Responder("127.9.0.1 mode6=huge\n"
                     "127.9.0.3 wrongsrc\n")             # answers from 127.9.0.4
    m6 = Responder("127.9.0.5 mode6=garbage\n", seed=3)  # each RNG user on its own
    ntpg = Responder("127.9.0.7 ntp=garbage\n", seed=GARBAGE_SEED)
    evil = Evil("127.0.0.1")
    evil2 = Evil("127.0.0.3", echo=True, seed=8)
    devs = [("127.9.0.1", calm.port, "h-huge6", "ntpq"),
            ("127.9.0.3", calm.port, "h-wrongsrc", "ntpq"),
            ("127.9.0.5", m6.port, "h-garbage6", "ntpq"),
            ("127.9.0.7", ntpg.port, "h-garbage", "ntpq"),
            ("127.0.0.1", evil.port, "h-evil", "ntpq"),
            ("127.0.0.3", evil2.port, "h-evil-echo", "ntpq"),
            ("127.9.0.1", ntpg.port, "h-plain", "ntp")]
    import_devices(db, devs)
    r, doc = sweep_json(db)
    n = len(devs)
    check(doc["devices"] == n and doc["completed"] == n, "sweep %r" % doc)
    check(doc["packets"]["unmatched"] >= 1, "no unmatched packets (from the other port): %r" % doc)
    check(evil.requests >= 2 and evil2.requests >= 2, "the evil servers saw %d, %d requests"
          % (evil.requests, evil2.requests))
    one_result_each(db, doc["sweep"], n)
    _, lst = listing(db)
    res = {k: v["result"] for k, v in lst.items()}
    log("hostile: " + ", ".join("%s %s (%s)" % (k, v["status"], v["error"]) for k, v in
                                 sorted(res.items())))
    # mode6=huge: the time is fine; the huge mode 6 answer does not change that.
    check(res["h-huge6"]["status"] == "ok" and abs(res["h-huge6"]["offset"]) <= 0.02,
          "h-huge6 %r" % res["h-huge6"])
    # mode6=garbage: the time is fine, the device's own state unknown.
    check(res["h-garbage6"]["status"] == "ok" and res["h-garbage6"]["device_synchronized"] is None,
          "h-garbage6 %r" % res["h-garbage6"])
    check(res["h-garbage"]["status"] == "bad_response", "h-garbage %r" % res["h-garbage"])
    check(res["h-plain"]["status"] == "ok", "h-plain %r" % res["h-plain"])
    check(res["h-wrongsrc"]["status"] == "unreachable", "h-wrongsrc %r" % res["h-wrongsrc"])
    check(res["h-evil"]["status"] in ("bad_response", "unreachable"), "h-evil %r" % res["h-evil"])
    check(res["h-evil-echo"]["status"] in STATUSES, "h-evil-echo %r" % res["h-evil-echo"])
    for name, rr in res.items():
        for k in ("error", "refid", "device_peer"):
            check(printable(rr[k]), "%s: %s %r is not printable ASCII" % (name, k, rr[k]))
    for row in db.q("SELECT error, refid, dev_peer FROM result"):
        check(all(printable(v) for v in row), "a stored text is not printable: %r" % (row,))
    # The other commands read the hostile results without trouble.
    mon(db, "report", "--json").json()
    mon(db, "stats", "--json", expect=0).json()
    mon(db, "history", "h-evil-echo", "--json", expect=0).json()
    mon(db, "list", "--csv", expect=0)
    mon(db, "list", expect=0)
    # A second sweep against the same hostility.
    r, doc = sweep_json(db)
    check(doc["completed"] == n, "second sweep %r" % doc)
    db.consistent("after hostile answers")


# ---------------------------------------------------------------- main

CASES = {
    "statuses": (t_statuses, ("sqlite", "pg")),
    "many_devices": (t_many_devices, ("sqlite", "pg")),
    "name_unresolvable": (t_name_unresolvable, ("sqlite",)),
    "serve_alarms_udp": (lambda k: t_serve_alarms(k, "udp"), ("sqlite",)),
    "serve_alarms_tcp": (lambda k: t_serve_alarms(k, "tcp"), ("sqlite",)),
    "serve_rsyslog": (t_serve_rsyslog, ("sqlite",)),
    "two_monitors_pg": (t_two_monitors_pg, ("pg",)),
    "kill9": (t_kill9, ("sqlite", "pg")),
    "sigterm_sweep": (t_sigterm_sweep, ("sqlite",)),
    "locked_db": (t_locked_db, ("sqlite",)),
    "disk_full": (t_disk_full, ("sqlite",)),
    "hostile": (t_hostile, ("sqlite",)),
}


def main(argv):
    global STRATUM, RESPONDER, W
    if len(argv) == 2 and argv[1] == "list":
        for name, (_, kinds) in CASES.items():
            print(name, " ".join(kinds))
        return 0
    if len(argv) not in (4, 5) or argv[3] not in CASES:
        print(__doc__.strip(), file=sys.stderr)
        return 1
    STRATUM, RESPONDER = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    fn, kinds = CASES[argv[3]]
    kind = argv[4] if len(argv) == 5 else kinds[0]
    if kind not in kinds:
        print("%s runs on %s, not %s" % (argv[3], "/".join(kinds), kind), file=sys.stderr)
        return 1
    W = Work()
    t0 = time.monotonic()
    try:
        fn(kind)
        W.undo()  # every process stopped: their exit reports are in
        sanitizer_check()
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except Failure as e:
        print("FAIL: %s" % e)
        if os.environ.get("MONSWEEP_KEEP"):
            W.keep = True
            print("kept %s" % W.dir)
        return 1
    finally:
        W.close()
    print("PASS %s (%s) in %.1f s" % (argv[3], kind, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
