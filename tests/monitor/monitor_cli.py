#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""`stratum monitor` from the command line, against SQLite or a throwaway PostgreSQL
(tests/monitor/pg.py): the inventory (add, import, list, remove, groups), the verdicts
(report and its exit status), the results (sweep, history, stats, prune), the ntpq probe
and every --json output validated against docs/schema/stratum-monitor-<cmd>.schema.json.
Devices are simulated by stratum-responder (tests/monitor/responder.c) on 127.x.y.z;
sweeps use --reference none (no local NTP daemon). Every responder is stopped by its PID
and every scratch folder removed; any sanitizer report on stderr fails the case.

Usage: monitor_cli.py STRATUM RESPONDER CASE sqlite|pg      (or 'list')
Exit: 0 pass, 1 fail, 77 skipped (PostgreSQL not installed).
"""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg  # noqa: E402

STRATUM = None
RESPONDER = None
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCHEMA_COMMANDS = ("list", "report", "groups", "sweep", "history", "stats")
# A responder device's offset as a sweep measures it: its intended offset within this (the
# loopback round trip is microseconds; the margin is for a loaded machine).
OFFSET_TOL = 0.02
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                       r"runtime error:")
CSV_HEADER = ("name,host,group,probe,threshold,critical,level,time,status,offset,delay,"
              "stratum,leap,refid,device_synchronized,device_offset,device_peer,error,reason")


class Skip(Exception):
    pass


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def near(a, b, tol):
    return a is not None and b is not None and abs(a - b) <= tol


# ---------------------------------------------------------------- the environment

class Env:
    """One case's world: a scratch folder, the database (a SQLite file in it or a
    PostgreSQL URL) and the responders it started."""

    def __init__(self, backend):
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="stratum-monitor-cli-")
        self.db = None
        self.responders = []
        self._pg = None

    def __enter__(self):
        if self.backend == "pg":
            self._pg = pg.postgres()
            try:
                self.db = self._pg.__enter__()
            except pg.PostgresNotFound as e:
                self._pg = None
                raise Skip(str(e))
        else:
            self.db = os.path.join(self.dir, "monitor.db")
        return self

    def __exit__(self, *exc):
        for r in self.responders:
            r.stop()
        try:
            if self._pg is not None:
                self._pg.__exit__(*exc)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, name):
        return os.path.join(self.dir, name)

    def responder(self, spec, port=0):
        r = Responder(self, spec, port).start()
        self.responders.append(r)
        return r

    def mon(self, *args, db=True, env_extra=None, stdin=None, timeout=120):
        """Runs `stratum monitor [--db DB] ARGS`; any sanitizer report fails the case."""
        cmd = [STRATUM, "monitor"] + (["--db", self.db] if db else []) + list(args)
        env = dict(os.environ)
        env.pop("STRATUM_MONITOR_DB", None)
        env["LC_ALL"] = "C"
        env["TZ"] = "UTC"
        if env_extra:
            env.update(env_extra)
        t0 = time.monotonic()
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           env=env)
        r = Result(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
        check(not SANITIZER.search(p.stderr), "sanitizer report:\n%s" % r)
        check(p.returncode >= 0, "killed by signal %d:\n%s" % (-p.returncode, r))
        return r

    def ok(self, *args, **kw):
        r = self.mon(*args, **kw)
        expect_rc(r, 0)
        return r

    def json(self, *args, rc=0, **kw):
        """Runs with --json (added last); stdout must be one JSON document."""
        r = self.mon(*args, "--json", **kw)
        expect_rc(r, rc)
        try:
            return json.loads(r.out)
        except ValueError as e:
            fail("stdout is not JSON (%s):\n%s" % (e, r))

    def devices(self, *args):
        """`list --json`'s devices by name."""
        doc = self.json("list", *args)
        check(doc["devices"] == len(doc["list"]), "devices %d but %d listed" % (
            doc["devices"], len(doc["list"])))
        return {d["name"]: d for d in doc["list"]}

    def sweep(self, *args):
        r = self.mon("sweep", "--reference", "none", "--timeout", "0.5", *args)
        expect_rc(r, 0)
        return r


class Result:
    def __init__(self, args, rc, out, err, secs):
        self.args, self.rc, self.out, self.err, self.secs = args, rc, out, err, secs

    def __str__(self):
        return "stratum monitor %s\n  exit %d (%.2f s)\n  stdout:\n%s\n  stderr:\n%s" % (
            " ".join(self.args), self.rc, self.secs, self.out[:6000], self.err[:6000])


def expect_rc(r, rc):
    check(r.rc == rc, "exit %d, want %d:\n%s" % (r.rc, rc, r))


class Responder:
    """stratum-responder answering at every 127.x.y.z on one port, as spec says."""

    def __init__(self, env, spec, port):
        self.env = env
        self.spec_path = env.path("spec-%d-%d" % (len(env.responders), time.monotonic_ns()))
        self.pidfile = self.spec_path + ".pid"
        self.spec = spec
        self.port = port
        self.proc = None

    def start(self):
        with open(self.spec_path, "w") as f:
            f.write(self.spec)
        self.proc = subprocess.Popen([RESPONDER, "--port", str(self.port), "--spec",
                                      self.spec_path, "--pidfile", self.pidfile],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.port == 0:
            line = self.proc.stdout.readline()
            m = re.match(r"port (\d+)$", line.strip())
            if not m:
                self.stop()
                fail("stratum-responder said %r, not 'port N': %s" % (
                    line, self.proc.stderr.read()))
            self.port = int(m.group(1))
        deadline = time.time() + 10
        while not os.path.exists(self.pidfile):
            if self.proc.poll() is not None:
                fail("stratum-responder exited %d: %s" % (self.proc.returncode,
                                                          self.proc.stderr.read()))
            check(time.time() < deadline, "stratum-responder wrote no pidfile in 10 s")
            time.sleep(0.01)
        return self

    def addr(self, host):
        return "%s:%d" % (host, self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            err = self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()
            check(not SANITIZER.search(err or ""), "stratum-responder: %s" % err)
            self.proc = None


# ---------------------------------------------------------------- helpers

def csv_rows(text):
    """A CSV output: its header line and its rows as dicts."""
    lines = text.splitlines()
    check(lines and lines[0] == CSV_HEADER, "CSV header is %r, want %r" % (
        lines[0] if lines else None, CSV_HEADER))
    return list(csv.DictReader(io.StringIO(text)))


def write_file(path, text, encoding="utf-8", newline="\n", bom=False):
    data = text.replace("\n", newline).encode(encoding)
    with open(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def file_errors(err, path):
    """The `FILE:LINE: reason` lines of stderr, as {line: reason}."""
    out = {}
    for ln in err.splitlines():
        if ln.startswith(path + ":"):
            m = re.match(re.escape(path) + r":(\d+): (.*)$", ln)
            check(m is not None, "bad error line %r" % ln)
            out[int(m.group(1))] = m.group(2)
    return out


def same_device(got, want):
    """got (a list --json entry) has exactly want's inventory fields."""
    for k in ("name", "host", "group", "probe", "threshold", "critical"):
        check(k in got, "no %r in %s" % (k, got))
        if isinstance(want[k], float):
            check(abs(got[k] - want[k]) < 1e-12, "%s: %s is %r, want %r" % (
                want["name"], k, got[k], want[k]))
        else:
            check(got[k] == want[k], "%s: %s is %r, want %r" % (want["name"], k, got[k], want[k]))


def dev(name, host, group="", probe="ntp", threshold=0.1, critical=1.0):
    return dict(name=name, host=host, group=group, probe=probe, threshold=threshold,
                critical=critical)


# ---------------------------------------------------------------- 1. inventory

def t_add_list_remove(e):
    """add with every option; list --json/--csv/text, groups; duplicates refused (exit 3)
    with the inventory unchanged; remove by name, host, host:port and [v6]:port."""
    r = e.ok("add", "127.0.1.1", "--name", "alpha", "--group", "lab", "--probe", "ntpq",
             "--threshold", "0.25", "--critical", "2")
    check(r.out == "added alpha (127.0.1.1, probe ntpq, threshold 0.25 s, critical 2 s, "
                   "group lab)\n", "add said %r" % r.out)
    r = e.ok("add", "127.0.1.2:1123")
    check(r.out == "added 127.0.1.2:1123 (127.0.1.2:1123, probe ntp, threshold 0.1 s, "
                   "critical 1 s)\n", "add said %r" % r.out)
    e.ok("add", "[::1]:4123", "--name", "six, \"quoted\"", "--group", "lab", "--probe", "ntp")
    # a threshold above the default critical one: critical defaults to the threshold
    e.ok("add", "clock.example.net", "--group", "office 2", "--threshold", "1.5")
    # the database from the environment, as from --db
    e.ok("add", "127.0.1.3", "--name", "from-env", "--critical", "0.5", db=False,
         env_extra={"STRATUM_MONITOR_DB": e.db})
    want = {d["name"]: d for d in (
        dev("alpha", "127.0.1.1", "lab", "ntpq", 0.25, 2.0),
        dev("127.0.1.2:1123", "127.0.1.2:1123"),
        dev("six, \"quoted\"", "[::1]:4123", "lab"),
        dev("clock.example.net", "clock.example.net", "office 2", threshold=1.5, critical=1.5),
        dev("from-env", "127.0.1.3", critical=0.5))}
    doc = e.json("list")
    check(doc["schema_version"] == 1 and doc["devices"] == 5, "list: %s" % doc)
    check(doc["counts"] == {"ok": 0, "warning": 0, "critical": 0, "unknown": 5},
          "counts %s" % doc["counts"])
    check(doc["reference"] is None, "reference %r before any sweep" % doc["reference"])
    names = [d["name"] for d in doc["list"]]
    check(names == sorted(want), "list order %s, want by name" % names)
    for d in doc["list"]:
        same_device(d, want[d["name"]])
        check(d["level"] == "unknown" and d["reason"] == "never probed" and d["result"] is None,
              "a device never probed: %s" % d)
    before = e.devices()
    # the same list from $STRATUM_MONITOR_DB
    r = e.mon("list", "--json", db=False, env_extra={"STRATUM_MONITOR_DB": e.db})
    expect_rc(r, 0)
    check({d["name"]: d for d in json.loads(r.out)["list"]} == before,
          "list from $STRATUM_MONITOR_DB differs")

    # duplicates: a name, a host:port (also the default port spelt out), all refused
    for args, word in ((("127.0.1.9", "--name", "alpha"), "alpha"),
                       (("127.0.1.1", "--name", "other"), "127.0.1.1"),
                       (("127.0.1.1:123", "--name", "other2"), "127.0.1.1"),
                       (("127.0.1.2:1123",), "127.0.1.2"),
                       (("[::1]:4123", "--name", "v6 again"), "::1"),
                       (("127.0.1.8", "--name", "from-env"), "from-env")):
        r = e.mon("add", *args)
        expect_rc(r, 3)
        check(word in r.err and "already" in r.err, "duplicate %s: message %r" % (args, r.err))
        check(r.out == "", "duplicate %s printed %r" % (args, r.out))
    check(e.devices() == before, "a refused duplicate changed the inventory")

    # --group, --csv, text
    check(set(e.devices("--group", "lab")) == {"alpha", "six, \"quoted\""}, "list --group lab")
    check(set(e.devices("--group", "nothing")) == set(), "list --group nothing")
    r = e.ok("list", "--csv")
    rows = csv_rows(r.out)
    check(len(rows) == 5, "list --csv has %d rows" % len(rows))
    check('"six, ""quoted"""' in r.out, "the name with a comma and quotes is not quoted:\n%s"
          % r.out)
    byname = {row["name"]: row for row in rows}
    check(set(byname) == set(want), "list --csv names %s" % sorted(byname))
    a = byname["alpha"]
    check((a["host"], a["group"], a["probe"], a["threshold"], a["critical"], a["level"],
           a["status"], a["reason"]) == ("127.0.1.1", "lab", "ntpq", "0.25", "2", "unknown", "",
                                         "never probed"), "list --csv alpha: %s" % a)
    r = e.ok("list")
    check(r.out.startswith("NAME ") and all(n in r.out for n in want), "list text:\n%s" % r.out)
    r = e.mon("list", "--json", "--csv")
    expect_rc(r, 1)

    doc = e.json("groups")
    check(doc["schema_version"] == 1, "groups schema_version")
    got = {g["name"]: g["devices"] for g in doc["groups"]}
    check(got == {"": 2, "lab": 2, "office 2": 1}, "groups %s" % got)
    r = e.ok("groups")
    check(re.search(r"^\(none\) +2$", r.out, re.M) and re.search(r"^lab +2$", r.out, re.M),
          "groups text:\n%s" % r.out)

    # remove: by name, host:port, host alone, and an IPv6 device as list shows its host
    r = e.ok("remove", "alpha")
    check(r.out == "removed alpha\n", "remove said %r" % r.out)
    e.ok("remove", "127.0.1.2:1123")
    e.ok("remove", "127.0.1.3")
    check(set(e.devices()) == {"six, \"quoted\"", "clock.example.net"}, "after removes: %s"
          % sorted(e.devices()))
    r = e.mon("remove", "[::1]:4123")
    expect_rc(r, 0)
    check(set(e.devices()) == {"clock.example.net"}, "after removing [::1]:4123: %s"
          % sorted(e.devices()))
    # unknown: exit 1, named; with a known one in the same call the known one goes
    r = e.mon("remove", "no-such-device")
    expect_rc(r, 1)
    check("no-such-device" in r.err, "remove unknown: %r" % r.err)
    r = e.mon("remove", "no-such-device", "clock.example.net")
    expect_rc(r, 1)
    check(e.devices() == {}, "clock.example.net was not removed along an unknown one")
    expect_rc(e.mon("remove"), 1)
    doc = e.json("groups")
    check(doc["groups"] == [], "groups of an empty inventory: %s" % doc["groups"])


def t_bad_input(e):
    """Invalid addresses, ports, thresholds, probes; unknown commands and options: exit 1
    with the problem named and nothing added. A database that cannot be opened: exit 3."""
    for args, words in (
            (("127.2.300.1",), ["127.2.300.1", "not a host"]),
            (("host:0",), ["host:0", "port"]),
            (("host:70000",), ["host:70000", "port"]),
            (("[::1",), ["[::1"]),
            (("[::1]x",), ["[::1]x"]),
            (("bad host",), ["bad host"]),
            (("b" * 256,), ["longer than 255"]),
            (("b" * 256 + ":123",), ["longer than 255"]),
            (("[" + "1:" * 200 + ":1]:5",), []),
            (("-leading",), []),
            (("h", "--threshold", "-1"), ["--threshold", "-1"]),
            (("h", "--threshold", "abc"), ["--threshold", "abc"]),
            (("h", "--threshold", "0"), ["--threshold"]),
            (("h", "--threshold", "nan"), ["--threshold"]),
            (("h", "--critical", "inf"), ["--critical"]),
            (("h", "--critical", "0.05", "--threshold", "0.1"), ["critical", "0.05", "0.1"]),
            (("h", "--threshold", "3", "--critical", "2"), ["critical", "2", "3"]),
            (("h", "--probe", "snmp"), ["snmp"]),
            (("h", "--name", "tab\there"), ["name"]),
            (("h", "--group", "x" * 64), ["group"]),
            (("h", "--bogus"), ["bogus"]),
            (("h", "extra"), []),
            ((), []),
            (("h", "--name"), ["name"])):
        r = e.mon("add", *args)
        expect_rc(r, 1)
        check(r.out == "", "add %s printed %r" % (args, r.out))
        for w in words:
            check(w in r.err, "add %s: message %r does not name %r" % (args, r.err, w))
        check(r.err.strip() != "", "add %s: no message" % (args,))
    check(e.devices() == {}, "a refused add added something: %s" % e.devices())

    r = e.mon("frobnicate")
    expect_rc(r, 1)
    check("frobnicate" in r.err and "not a command" in r.err, "unknown command: %r" % r.err)
    r = e.mon("--frob", "list")
    expect_rc(r, 1)
    check("--frob" in r.err, "unknown option: %r" % r.err)
    r = e.mon()
    expect_rc(r, 1)
    check("Usage" in r.err, "no command: %r" % r.err)
    # report is a Nagios plugin: called wrongly, it says UNKNOWN (3)
    for args in (("report", "--json", "--csv"), ("report", "--frob"), ("report", "extra")):
        r = e.mon(*args)
        expect_rc(r, 3)
        check(r.err.strip() != "", "%s: no message" % (args,))
    for args in (("list", "--frob"), ("list", "extra"), ("list", "--json", "--csv"),
                 ("sweep", "--timeout", "0"), ("sweep", "--rate", "x"), ("sweep", "--tries", "0"),
                 ("sweep", "extra"), ("sweep", "--keep", "1y"), ("history",),
                 ("history", "a", "b"), ("history", "x", "--limit", "0"),
                 ("history", "x", "--since", "abc"), ("stats", "--worst", "-1"),
                 ("stats", "extra"), ("prune",), ("prune", "--keep", "abc"),
                 ("prune", "--keep", "0"), ("groups", "x"), ("import",),
                 ("import", e.path("no-such.csv")), ("serve", "--interval", "abc")):
        r = e.mon(*args)
        expect_rc(r, 1)
        check(r.err.strip() != "", "%s: no message" % (args,))
    check(e.devices() == {}, "the inventory changed")
    # an empty --db is not SQLite's temporary database
    for args in (("--db", ""), ("--db=",)):
        r = e.mon(*args, "add", "127.0.0.1", db=False)
        expect_rc(r, 1)
        check("--db" in r.err and r.out == "", "%s: %s" % (args, r))

    # a database of a newer schema is somebody else's: exit 3, untouched
    e.ok("add", "127.0.0.1", "--name", "kept")
    set_meta = "UPDATE stratum_meta SET value = '2' WHERE key = 'schema'"
    if e.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(e.db)
        con.execute(set_meta)
        con.commit()
        con.close()
        shown = e.db
    else:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-c", set_meta, e.db], check=True,
                       capture_output=True)
        shown = e.db.replace("@", ":Sekr1tPw@", 1)
    for args in (("list",), ("add", "127.0.0.2"), ("report",)):
        r = e.mon("--db", shown, *args, db=False)
        expect_rc(r, 3)
        check("schema version 2 is newer" in r.err, "%s: message %r" % (args, r.err))
        check("Sekr1tPw" not in r.err, "the password is in the message: %r" % r.err)

    if e.backend == "sqlite":
        for args in (("list",), ("add", "127.0.0.1"), ("stats",)):
            r = e.mon("--db", "/nonexistent-dir/x.db", *args, db=False)
            expect_rc(r, 3)
            check("/nonexistent-dir" in r.err, "%s: message %r" % (args, r.err))
        r = e.mon("--db", "/nonexistent-dir/x.db", "report", db=False)
        expect_rc(r, 3)  # UNKNOWN, as a Nagios plugin
        check(not os.path.exists("/nonexistent-dir"), "/nonexistent-dir was created")
        # not a database
        junk = write_file(e.path("junk.db"), "this is not a SQLite database\n" * 100)
        r = e.mon("--db", junk, "list", db=False)
        expect_rc(r, 3)
        check(junk in r.err, "not a database: %r" % r.err)
    else:
        m = re.match(r"postgresql://([^@]+)@127\.0\.0\.1:(\d+)/(\w+)$", e.db)
        check(m is not None, "unexpected URL %s" % e.db)
        port = pg.free_port()
        url = "postgresql://%s:Sekr1tPw@127.0.0.1:%d/%s" % (m.group(1), port, m.group(3))
        for args in (("list",), ("add", "127.0.0.1"), ("report",)):
            r = e.mon("--db", url, *args, db=False)
            expect_rc(r, 3)
            check("Sekr1tPw" not in r.err and "Sekr1tPw" not in r.out,
                  "the password is in the message: %r" % r.err)
            check(str(port) in r.err and r.err.strip() != "", "%s: message %r" % (args, r.err))
        # serve logs the database it uses, without the password
        url = e.db.replace("@", ":Sekr1tPw@", 1)  # trust authentication: never asked for
        good = url.replace("/stratum", "/postgres")
        r = e.mon("--db", good, "serve", "--once", "--reference", "none", db=False)
        expect_rc(r, 0)
        check("Sekr1tPw" not in r.err and "postgres:***@" in r.err,
              "serve logs the password: %r" % r.err)
        # a database that does not exist on a running server
        url = "postgresql://%s:Sekr1tPw@127.0.0.1:%s/no_such_db" % (m.group(1), m.group(2))
        r = e.mon("--db", url, "list", db=False)
        expect_rc(r, 3)
        check("Sekr1tPw" not in r.err, "the password is in the message: %r" % r.err)
        check("no_such_db" in r.err, "missing database: message %r" % r.err)


# ---------------------------------------------------------------- 3. import

def t_import_csv(e):
    """A valid file (BOM, CRLF, quotes, quoted commas) imports all; invalid lines are
    reported as FILE:LINE: reason and nothing is imported unless --skip-invalid;
    duplicates within the file or with the inventory are invalid; header errors; 20,000
    lines in one go."""
    good = write_file(e.path("good.csv"), (
        "host,name,group,probe,port,threshold,critical\n"
        "127.0.2.1,\"core, rack 1\",lab,ntpq,1123,0.2,0.5\n"
        "127.0.2.2,\"the \"\"quoted\"\" one\",,ntp,,,\n"
        "::1,v6,lab,,4123,,\n"
        "127.0.2.3, spaced ,\"grp, x\",ntp,123,1.5,\n"
        "\n"
        "# a comment\n"
        "gps.example.org,,lab,ntpq,,,3\n"), newline="\r\n", bom=True)
    r = e.ok("import", good)
    check(r.out == "imported 5 devices\n", "import said %r" % r.out)
    want = {d["name"]: d for d in (
        dev("core, rack 1", "127.0.2.1:1123", "lab", "ntpq", 0.2, 0.5),
        dev("the \"quoted\" one", "127.0.2.2"),
        dev("v6", "[::1]:4123", "lab"),
        dev("spaced", "127.0.2.3", "grp, x", threshold=1.5, critical=1.5),
        dev("gps.example.org", "gps.example.org", "lab", "ntpq", critical=3.0))}
    got = e.devices()
    check(set(got) == set(want), "imported %s, want %s" % (sorted(got), sorted(want)))
    for n, d in got.items():
        same_device(d, want[n])

    # columns in another order, a subset, and standard input
    r = e.ok("import", "-", stdin="name,HOST\r\nfrom-stdin,127.0.2.9\r\n")
    check(r.out == "imported 1 device\n", "import - said %r" % r.out)
    same_device(e.devices()["from-stdin"], dev("from-stdin", "127.0.2.9"))
    before = e.devices()

    # three invalid lines among valid ones (blank and comment lines still count)
    bad = write_file(e.path("bad.csv"), (
        "host,name,group,port,threshold,critical\n"  # 1
        "127.0.3.1,n1,g,,,\n"                        # 2
        "127.0.3.300,n2,g,,,\n"                      # 3 bad address
        "\n"                                         # 4
        "127.0.3.3,n3,g,,,\n"                        # 5
        "# comment\n"                                # 6
        "127.0.3.4,n4,g,0,,\n"                       # 7 port 0
        "127.0.3.5,n5,g,,,\n"                        # 8
        "127.0.3.6,n6,g,,abc,\n"                     # 9 threshold
        "127.0.3.7,n7,g,,,\n"))                      # 10
    r = e.mon("import", bad)
    expect_rc(r, 1)
    errs = file_errors(r.err, bad)
    check(sorted(errs) == [3, 7, 9], "invalid lines reported: %s\n%s" % (sorted(errs), r))
    check("127.0.3.300" in errs[3], "line 3: %r" % errs[3])
    check("port" in errs[7] and "0" in errs[7], "line 7: %r" % errs[7])
    check("threshold" in errs[9] and "abc" in errs[9], "line 9: %r" % errs[9])
    check("nothing imported" in r.err, "no 'nothing imported':\n%s" % r)
    check(r.out == "", "stdout %r" % r.out)
    check(e.devices() == before, "a refused import changed the inventory")
    r = e.mon("import", bad, "--skip-invalid")
    expect_rc(r, 0)
    check(r.out == "imported 4 devices, skipped 3 invalid lines\n", "said %r" % r.out)
    check(sorted(file_errors(r.err, bad)) == [3, 7, 9], "--skip-invalid reports:\n%s" % r)
    check(set(e.devices()) - set(before) == {"n1", "n3", "n5", "n7"},
          "--skip-invalid imported %s" % sorted(set(e.devices()) - set(before)))
    before = e.devices()

    # duplicates: within the file (name, address) and with the inventory (name, address)
    dup = write_file(e.path("dup.csv"), (
        "host,name\n"              # 1
        "127.0.4.1,d1\n"           # 2
        "127.0.4.2,d1\n"           # 3 name twice in the file
        "127.0.4.1,d3\n"           # 4 address twice in the file
        "127.0.4.4,n1\n"           # 5 name in the inventory
        "127.0.3.1,d5\n"           # 6 address in the inventory
        "127.0.2.2:123,d6\n"       # 7 address in the inventory, default port spelt out
        "127.0.4.7,d7\n"           # 8
        "127.0.4.8,d8,extra\n"     # 9 a field too many
        + "%s,d10\n" % ("h" * 300)))  # 10 a host too long
    r = e.mon("import", dup)
    expect_rc(r, 1)
    errs = file_errors(r.err, dup)
    check(sorted(errs) == [3, 4, 5, 6, 7, 9, 10], "duplicate lines reported: %s\n%s"
          % (sorted(errs), r))
    for ln in (3, 4):
        check("twice" in errs[ln], "line %d: %r" % (ln, errs[ln]))
    for ln in (5, 6, 7):
        check("inventory" in errs[ln], "line %d: %r" % (ln, errs[ln]))
    check("longer than 255" in errs[10], "line 10: %r" % errs[10])
    check(e.devices() == before, "a refused import changed the inventory")
    r = e.mon("import", "--skip-invalid", dup)
    expect_rc(r, 0)
    check(set(e.devices()) - set(before) == {"d1", "d7"}, "imported %s"
          % sorted(set(e.devices()) - set(before)))
    check(e.devices()["d1"]["host"] == "127.0.4.1", "d1 is the first of the two")
    before = e.devices()

    # header problems and empty files: errors, with or without --skip-invalid
    for name, text, word in (
            ("nohost.csv", "name,group\nx,y\n", "host"),
            ("unknown.csv", "host,colour\n127.0.5.1,red\n", "colour"),
            ("empty.csv", "", "empty"),
            ("blank.csv", "\n", None),
            ("bomonly.csv", "\ufeff", None),
            ("quote.csv", "host,\"name\n127.0.5.1,x\n", None)):
        p = write_file(e.path(name), text)
        for extra in ((), ("--skip-invalid",)):
            r = e.mon("import", p, *extra)
            expect_rc(r, 1)
            check(r.err.strip() != "" and (word is None or word in r.err),
                  "%s: message %r" % (name, r.err))
            check(e.devices() == before, "%s changed the inventory" % name)

    # 20,000 lines in one go
    n = 20000
    lines = ["host,name,group,probe,threshold"]
    for i in range(n):
        lines.append("127.%d.%d.%d,bulk-%05d,bulk%d,%s,%s" % (
            10 + i // 65536, (i // 256) % 256, i % 256, i, i % 4, "ntpq" if i % 3 == 0 else "ntp",
            "0.5" if i % 7 == 0 else ""))
    big = write_file(e.path("big.csv"), "\n".join(lines) + "\n")
    r = e.mon("import", big)
    expect_rc(r, 0)
    check(r.out == "imported %d devices\n" % n, "said %r" % r.out)
    check(r.secs < 60, "20,000 lines took %.1f s" % r.secs)
    doc = e.json("list")
    check(doc["devices"] == len(before) + n and len(doc["list"]) == len(before) + n,
          "list has %d devices, want %d" % (doc["devices"], len(before) + n))
    bulk = {d["name"]: d for d in doc["list"] if d["name"].startswith("bulk-")}
    check(len(bulk) == n, "%d bulk devices listed" % len(bulk))
    same_device(bulk["bulk-00000"], dev("bulk-00000", "127.10.0.0", "bulk0", "ntpq", 0.5, 1.0))
    same_device(bulk["bulk-19999"], dev("bulk-19999", "127.10.78.31", "bulk3", "ntp", 0.5))
    same_device(bulk["bulk-19997"], dev("bulk-19997", "127.10.78.29", "bulk1", "ntp"))
    same_device(bulk["bulk-19998"], dev("bulk-19998", "127.10.78.30", "bulk2", "ntpq"))
    groups = {g["name"]: g["devices"] for g in e.json("groups")["groups"]}
    check(all(groups.get("bulk%d" % k) == n // 4 for k in range(4)), "groups %s" % groups)
    # importing it again: every line is in the inventory already; nothing changes
    r = e.mon("import", big)
    expect_rc(r, 1)
    check(len(file_errors(r.err, big)) == n, "re-import reported %d lines"
          % len(file_errors(r.err, big)))
    check(e.json("list")["devices"] == len(before) + n, "a refused re-import changed the count")


# ---------------------------------------------------------------- 4. report

def report_first(r):
    return r.out.splitlines()[0] if r.out else ""


def t_report_levels(e):
    """report's verdict and exit status (0 ok, 1 warning, 2 critical, 3 unknown), its
    --json (only the devices not standard) and --csv; per-device thresholds."""
    r = e.mon("report")
    expect_rc(r, 3)
    check(report_first(r).startswith("NTP FLEET UNKNOWN - 0 of 0 devices"), "empty: %s" % r)
    doc = e.json("report", rc=3)
    check(doc["level"] == "unknown" and doc["exit_code"] == 3 and doc["devices"] == 0 and
          doc["not_standard"] == [], "empty report --json: %s" % doc)

    resp = e.responder("127.0.6.1 offset=0.001\n"
                       "127.0.6.2 offset=0.25\n"
                       "127.0.6.3 offset=2\n"
                       "127.0.6.4 silent\n"
                       "127.0.6.5 offset=0.25\n"
                       "127.0.6.6 offset=0.7\n"
                       "127.0.6.7 offset=-0.3\n")
    e.ok("add", resp.addr("127.0.6.1"), "--name", "ok1")
    e.ok("add", resp.addr("127.0.6.2"), "--name", "warn")
    e.ok("add", resp.addr("127.0.6.3"), "--name", "crit")
    e.ok("add", resp.addr("127.0.6.4"), "--name", "silent")
    e.ok("add", resp.addr("127.0.6.5"), "--name", "loose", "--threshold", "0.5")
    e.ok("add", resp.addr("127.0.6.6"), "--name", "tight", "--threshold", "0.2",
         "--critical", "0.5", "--group", "g")
    e.ok("add", resp.addr("127.0.6.7"), "--name", "neg", "--group", "g")
    # never probed: unknown
    r = e.mon("report")
    expect_rc(r, 3)
    check(report_first(r) == "NTP FLEET UNKNOWN - 0 of 7 devices not standard (0 critical, "
                             "0 warning, 7 unknown)", "never probed: %s" % r)
    check(e.json("report", rc=3)["not_standard"] == [], "never probed devices listed")

    r = e.sweep()
    check(r.out.startswith("sweep 1: 7 devices"), "sweep said:\n%s" % r)
    r = e.mon("report")
    expect_rc(r, 2)
    check(report_first(r) == "NTP FLEET CRITICAL - 5 of 7 devices not standard (3 critical, "
                             "2 warning, 0 unknown)", "report:\n%s" % r)
    check(re.search(r"^last sweep 1 at \S+ \(done\); reference: ", r.out, re.M),
          "no last sweep line:\n%s" % r.out)
    for n in ("warn", "crit", "silent", "tight", "neg"):
        check(re.search(r"^%s " % n, r.out, re.M), "%s not in report:\n%s" % (n, r.out))
    for n in ("ok1", "loose"):
        check(not re.search(r"^%s " % n, r.out, re.M), "%s in report:\n%s" % (n, r.out))
    doc = e.json("report", rc=2)
    check(doc["level"] == "critical" and doc["exit_code"] == 2 and doc["devices"] == 7,
          "report --json: %s" % doc)
    check(doc["counts"] == {"ok": 2, "warning": 2, "critical": 3, "unknown": 0},
          "counts %s" % doc["counts"])
    levels = {d["name"]: d["level"] for d in doc["not_standard"]}
    check(levels == {"warn": "warning", "crit": "critical", "silent": "critical",
                     "tight": "critical", "neg": "warning"}, "not_standard %s" % levels)
    ns = {d["name"]: d for d in doc["not_standard"]}
    check(ns["silent"]["result"]["status"] == "unreachable" and
          ns["silent"]["result"]["offset"] is None and "unreachable" in ns["silent"]["reason"],
          "silent: %s" % ns["silent"])
    check(near(ns["warn"]["result"]["offset"], 0.25, OFFSET_TOL) and
          near(ns["crit"]["result"]["offset"], 2.0, OFFSET_TOL) and
          near(ns["neg"]["result"]["offset"], -0.3, OFFSET_TOL) and
          near(ns["tight"]["result"]["offset"], 0.7, OFFSET_TOL), "offsets: %s" % ns)
    check("beyond 0.500" in ns["tight"]["reason"], "tight: %r" % ns["tight"]["reason"])
    r = e.mon("report", "--csv")
    expect_rc(r, 2)
    rows = csv_rows(r.out)
    check({row["name"]: row["level"] for row in rows} == levels, "report --csv: %s" % rows)
    check(len(rows) == 5, "report --csv has %d rows" % len(rows))
    # list shows all, with their levels
    lst = e.devices()
    check(lst["loose"]["level"] == "ok" and near(lst["loose"]["result"]["offset"], 0.25,
                                                 OFFSET_TOL), "loose: %s" % lst["loose"])
    check(lst["ok1"]["level"] == "ok", "ok1: %s" % lst["ok1"])
    # --group
    doc = e.json("report", "--group", "g", rc=2)
    check({d["name"] for d in doc["not_standard"]} == {"tight", "neg"} and doc["devices"] == 2,
          "report --group g: %s" % doc)

    for n in ("crit", "silent", "tight"):
        e.ok("remove", n)
    r = e.mon("report")
    expect_rc(r, 1)
    check(report_first(r).startswith("NTP FLEET WARNING - 2 of 4 devices"), "report:\n%s" % r)
    doc = e.json("report", rc=1)
    check(doc["level"] == "warning" and {d["name"] for d in doc["not_standard"]} ==
          {"warn", "neg"}, "report --json: %s" % doc)
    # a warning outranks a device never probed
    e.ok("add", resp.addr("127.0.6.8"), "--name", "newcomer")
    expect_rc(e.mon("report"), 1)
    e.ok("remove", "newcomer")

    e.ok("remove", "warn")
    e.ok("remove", "neg")
    r = e.mon("report")
    expect_rc(r, 0)
    check(report_first(r) == "NTP FLEET OK - 0 of 2 devices not standard (0 critical, "
                             "0 warning, 0 unknown)", "report:\n%s" % r)
    doc = e.json("report", rc=0)
    check(doc["level"] == "ok" and doc["not_standard"] == [], "report --json: %s" % doc)
    r = e.mon("report", "--csv")
    expect_rc(r, 0)
    check(r.out == CSV_HEADER + "\n", "report --csv of a good fleet: %r" % r.out)
    # results older than --max-age are unknown: a monitor that stopped sweeping does not
    # leave an OK behind
    time.sleep(2.2)
    r = e.mon("report", "--max-age", "1s")
    expect_rc(r, 3)
    check(report_first(r) == "NTP FLEET UNKNOWN - 0 of 2 devices not standard (0 critical, "
                             "0 warning, 2 unknown)", "report --max-age 1s:\n%s" % r)
    lst = e.json("list", "--max-age", "1s")["list"]
    check(all(x["level"] == "unknown" and "old" in x["reason"] for x in lst),
          "list --max-age 1s: %s" % lst)
    expect_rc(e.mon("report", "--max-age", "1h"), 0)
    expect_rc(e.mon("report", "--max-age", "soon"), 3)

    e.ok("add", resp.addr("127.0.6.9"), "--name", "unprobed")
    r = e.mon("report")
    expect_rc(r, 3)
    check(report_first(r) == "NTP FLEET UNKNOWN - 0 of 3 devices not standard (0 critical, "
                             "0 warning, 1 unknown)", "report:\n%s" % r)
    doc = e.json("report", rc=3)
    check(doc["counts"]["unknown"] == 1 and doc["not_standard"] == [], "report: %s" % doc)


# ---------------------------------------------------------------- 5. history, stats, prune

def t_history_stats_prune(e):
    """Three sweeps (the responder restarted with another offset between them) give a
    history oldest first; --limit, --since, --csv; stats counts and worst offsets; prune."""
    rest = ("127.0.7.2 offset=-0.3\n127.0.7.3 offset=0.002\n127.0.7.4 silent\n"
            "127.0.7.5 unsync\n")
    resp = e.responder("127.0.7.1 offset=0.05\n" + rest)
    port = resp.port
    e.ok("add", resp.addr("127.0.7.1"), "--name", "h1")
    e.ok("add", resp.addr("127.0.7.2"), "--name", "h2")
    e.ok("add", resp.addr("127.0.7.3"), "--name", "h3", "--group", "small")
    e.ok("add", resp.addr("127.0.7.4"), "--name", "h4")
    e.ok("add", resp.addr("127.0.7.5"), "--name", "h5")
    doc = e.json("history", "h1")
    check(doc["results"] == [] and doc["device"]["name"] == "h1", "history before: %s" % doc)
    doc = e.json("stats")
    check(doc["devices"] == 5 and doc["never_probed"] == 5 and doc["results"] == 0 and
          doc["sweeps"] == 0 and doc["worst"] == [], "stats before: %s" % doc)
    want = [0.05, 0.15, 0.25]
    for k, off in enumerate(want):
        if k > 0:
            resp.stop()
            resp = e.responder("127.0.7.1 offset=%g\n" % off + rest, port=port)
        r = e.sweep()
        check(r.out.startswith("sweep %d: 5 devices" % (k + 1)), "sweep %d:\n%s" % (k + 1, r))
    resp.stop()

    doc = e.json("history", "h1")
    check(doc["device"]["name"] == "h1" and doc["device"]["host"] == "127.0.7.1:%d" % port,
          "history device: %s" % doc["device"])
    offs = [x["offset"] for x in doc["results"]]
    check(len(offs) == 3 and all(near(a, b, OFFSET_TOL) for a, b in zip(offs, want)),
          "history h1 offsets %s, want %s (oldest first)" % (offs, want))
    check(all(x["status"] == "ok" for x in doc["results"]), "statuses %s" % doc["results"])
    times = [x["time"] for x in doc["results"]]
    check(times == sorted(times), "times not oldest first: %s" % times)
    # by host:port too
    check([x["offset"] for x in e.json("history", "127.0.7.1:%d" % port)["results"]] == offs,
          "history by host:port differs")
    doc = e.json("history", "h1", "--limit", "2")
    got = [x["offset"] for x in doc["results"]]
    check(got == offs[1:], "--limit 2 gives %s, want the newest two %s" % (got, offs[1:]))
    check(len(e.json("history", "h1", "--limit", "1")["results"]) == 1, "--limit 1")
    check([x["offset"] for x in e.json("history", "h1", "--since", "1h")["results"]] == offs,
          "--since 1h")
    doc = e.json("history", "h4")
    check([x["status"] for x in doc["results"]] == ["unreachable"] * 3 and
          all(x["offset"] is None for x in doc["results"]), "history h4: %s" % doc["results"])
    r = e.ok("history", "h1", "--csv")
    rows = csv_rows(r.out)
    check(len(rows) == 3, "history --csv has %d rows" % len(rows))
    check([row["level"] for row in rows] == ["ok", "warning", "warning"],
          "history --csv levels %s" % [row["level"] for row in rows])
    check(all(near(float(row["offset"]), w, OFFSET_TOL) for row, w in zip(rows, want)),
          "history --csv offsets %s" % [row["offset"] for row in rows])
    check(all(row["name"] == "h1" and row["status"] == "ok" for row in rows), "csv %s" % rows)
    r = e.ok("history", "h1")
    check(r.out.startswith("h1 (127.0.7.1:%d): 3 results\n" % port), "history text:\n%s" % r.out)
    r = e.mon("history", "no-such")
    expect_rc(r, 1)
    check("no-such" in r.err, "history unknown: %r" % r.err)

    doc = e.json("stats")
    check(doc["devices"] == 5 and doc["never_probed"] == 0, "stats: %s" % doc)
    check(doc["by_status"] == {"ok": 3, "unreachable": 1, "kod": 0, "unsynchronized": 1,
                               "bad_response": 0}, "stats by_status %s" % doc["by_status"])
    check(doc["sweeps"] == 3 and doc["results"] == 15, "stats sweeps %s results %s" % (
        doc["sweeps"], doc["results"]))
    worst = [(w["name"], w["offset"]) for w in doc["worst"]]
    check([n for n, _ in worst] == ["h2", "h1", "h3"], "worst %s, want h2 h1 h3" % worst)
    check(near(worst[0][1], -0.3, OFFSET_TOL) and near(worst[1][1], 0.25, OFFSET_TOL),
          "worst offsets %s" % worst)
    check(doc["oldest"] <= doc["newest"], "oldest %s newest %s" % (doc["oldest"], doc["newest"]))
    if e.backend == "sqlite":
        check(doc["database_bytes"] == os.path.getsize(e.db), "database_bytes %s, file %d" % (
            doc["database_bytes"], os.path.getsize(e.db)))
    check([w["name"] for w in e.json("stats", "--worst", "1")["worst"]] == ["h2"], "--worst 1")
    check(e.json("stats", "--worst", "0")["worst"] == [], "--worst 0")
    doc = e.json("stats", "--group", "small")
    check(doc["devices"] == 1 and [w["name"] for w in doc["worst"]] == ["h3"],
          "stats --group small: %s" % doc)
    r = e.ok("stats")
    check("devices: 5 (0 never probed)" in r.out and "kept: 15 results of 3 sweeps" in r.out,
          "stats text:\n%s" % r.out)

    expect_rc(e.mon("prune", "--keep", "abc"), 1)
    expect_rc(e.mon("prune", "--keep", "-5"), 1)
    expect_rc(e.mon("prune", "--keep", "10x"), 1)
    expect_rc(e.mon("prune"), 1)
    r = e.ok("prune", "--keep", "1h")
    check(r.out == "deleted 0 results\n", "prune --keep 1h said %r" % r.out)
    check(e.json("stats")["results"] == 15, "prune --keep 1h deleted results")
    time.sleep(2.1)
    r = e.ok("prune", "--keep", "1s")
    check(r.out == "deleted 15 results\n", "prune --keep 1s said %r" % r.out)
    doc = e.json("stats")
    check(doc["results"] == 0 and doc["sweeps"] == 0 and doc["never_probed"] == 5 and
          doc["worst"] == [], "stats after prune: %s" % doc)
    check(e.json("history", "h1")["results"] == [], "history after prune")
    check(len(e.devices()) == 5, "prune removed devices")

    # a sweep with --keep prunes the older sweeps itself
    resp = e.responder("127.0.7.1 offset=0.05\n" + rest, port=port)
    e.sweep()
    time.sleep(2.1)
    e.sweep("--keep", "2s")
    doc = e.json("stats")
    check(doc["results"] == 5 and doc["sweeps"] == 1, "after sweep --keep 2s: %s" % doc)


# ---------------------------------------------------------------- 6. schemas

_validators = {}


def validate(doc, cmd):
    import jsonschema
    if cmd not in _validators:
        path = os.path.join(SRCDIR, "docs", "schema", "stratum-monitor-%s.schema.json" % cmd)
        with open(path) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _validators[cmd] = cls(schema)
    errors = sorted(_validators[cmd].iter_errors(doc), key=lambda x: list(x.path))
    if errors:
        fail("`%s --json` does not match docs/schema/stratum-monitor-%s.schema.json:\n%s\n%s" % (
            cmd, cmd, "\n".join("  at /%s: %s" % ("/".join(str(p) for p in x.path), x.message)
                                for x in errors[:10]), json.dumps(doc, indent=1)[:4000]))


def t_json_schemas(e):
    """Every --json output (list, report, groups, sweep, history, stats), for an empty
    inventory, devices never probed, and every status, is valid against its schema."""
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        fail("python3-jsonschema is missing: cannot validate against docs/schema/")
    missing = [c for c in SCHEMA_COMMANDS if not os.path.exists(os.path.join(
        SRCDIR, "docs", "schema", "stratum-monitor-%s.schema.json" % c))]
    check(not missing, "schema files missing: %s" % ", ".join(
        "docs/schema/stratum-monitor-%s.schema.json" % c for c in missing))
    seen = set()
    last = {}

    def j(cmd, *args, rc=0):
        doc = e.json(cmd, *args, rc=rc)
        validate(doc, cmd)
        check(doc.get("schema_version") == 1, "%s: schema_version %r" % (
            cmd, doc.get("schema_version")))
        seen.add(cmd)
        last[cmd] = doc
        return doc

    # empty
    j("list")
    j("report", rc=3)
    j("groups")
    j("stats")
    j("sweep", "--reference", "none", "--timeout", "0.5")
    resp = e.responder("127.0.8.2 offset=0.3\n"
                       "127.0.8.3 offset=-3\n"
                       "127.0.8.4 silent\n"
                       "127.0.8.5 unsync\n"
                       "127.0.8.6 kod=RATE\n"
                       "127.0.8.7 ntp=garbage\n"
                       "127.0.8.8 nomode6\n"
                       "127.0.8.9 mode6=error\n"
                       "127.0.8.10 wrongsrc\n")
    for i in range(1, 11):
        e.ok("add", resp.addr("127.0.8.%d" % i), "--name", "s%02d" % i,
             "--probe", "ntpq" if i % 2 else "ntp", "--group", "g%d" % (i % 3))
    e.ok("add", "[::1]:%d" % resp.port, "--name", "v6", "--probe", "ntpq")
    e.ok("add", "localhost:%d" % resp.port, "--name", "byname")  # /etc/hosts, no DNS
    # never probed
    j("list")
    j("report", rc=3)
    j("history", "s01")
    j("stats")
    # one device left unprobed: another group
    e.ok("add", resp.addr("127.0.8.11"), "--name", "later", "--group", "other")
    for g in ("g0", "g1", "g2"):
        doc = j("sweep", "--reference", "none", "--timeout", "0.5", "--group", g)
        check(doc["completed"] == doc["devices"] and sum(doc["by_status"].values()) ==
              doc["devices"], "sweep --json counts: %s" % doc)
    doc = j("sweep", "--reference", "none", "--timeout", "0.5", "--group", "")
    check(doc["devices"] == 2, "sweep of the group '' (v6, byname): %s" % doc)
    # a reference that does not answer: the reference object says so
    doc = j("sweep", "--reference", "127.0.0.1:%d" % pg.free_port(), "--timeout", "0.5",
            "--group", "g1")
    check(doc["reference"]["synchronized"] is None or doc["reference"]["synchronized"] is False,
          "reference %s" % doc["reference"])
    doc = j("list")
    statuses = {d["name"]: d["result"]["status"] if d["result"] else None for d in doc["list"]}
    check(statuses["s04"] == "unreachable" and statuses["s05"] == "unsynchronized" and
          statuses["s06"] == "kod" and statuses["s07"] == "bad_response" and
          statuses["later"] is None, "statuses %s" % statuses)
    j("list", "--group", "g1")
    doc = j("report", rc=2)  # critical outranks a device never probed
    check(doc["exit_code"] == 2 and doc["counts"]["unknown"] == 1, "report: %s" % doc)
    e.ok("remove", "later")
    doc = j("report", rc=2)
    check(doc["exit_code"] == 2, "report: %s" % doc)
    j("report", "--group", "g0", rc=2)
    j("groups")
    for n in ("s01", "s04", "s05", "s06", "s07", "s08", "v6", "byname"):
        j("history", n)
    j("history", "s01", "--limit", "1")
    j("stats")
    j("stats", "--worst", "0")
    j("stats", "--group", "g2")
    check(seen == set(SCHEMA_COMMANDS), "not validated: %s" % (set(SCHEMA_COMMANDS) - seen))
    # the schemas reject what is not the output: an unknown member, a missing one
    for cmd, doc in last.items():
        for bad in (dict(doc, bogus_member=1), {k: v for k, v in doc.items()
                                                if k != "schema_version"}):
            check(any(True for _ in _validators[cmd].iter_errors(bad)),
                  "the %s schema accepts %s" % (cmd, json.dumps(bad)[:300]))


# ---------------------------------------------------------------- 7. help

def t_help(e):
    """--help of the monitor and of every command: exit 0, Usage on stdout, no database
    touched."""
    db = e.path("help.db") if e.backend == "sqlite" else e.db
    r = e.mon("--help", db=False)
    expect_rc(r, 0)
    check(r.out.startswith("Usage: stratum monitor"), "monitor --help:\n%s" % r)
    cmds = re.findall(r"^  ([a-z]+) ", r.out, re.M)
    check(set(cmds) >= {"add", "import", "list", "remove", "groups", "sweep", "report",
                        "history", "stats", "prune", "serve"}, "commands in --help: %s" % cmds)
    expect_rc(e.mon("-h", db=False), 0)
    for c in cmds:
        for flag in ("--help", "-h"):
            r = e.mon("--db", db, c, flag, db=False)
            expect_rc(r, 0)
            check(r.out.startswith("Usage: stratum monitor %s" % c), "%s %s:\n%s" % (c, flag, r))
            check(r.err == "", "%s %s wrote to stderr: %r" % (c, flag, r.err))
        # after other options too
        r = e.mon("--db", db, c, "--json", "--help", db=False) if c in (
            "list", "report", "groups", "sweep", "history", "stats") else None
        if r is not None:
            expect_rc(r, 0)
            check("Usage" in r.out, "%s --json --help:\n%s" % (c, r))
    if e.backend == "sqlite":
        check(not os.path.exists(db), "--help created the database %s" % db)
    r = e.mon(db=False)
    expect_rc(r, 1)
    check(r.out == "" and r.err.startswith("Usage: stratum monitor"), "no command:\n%s" % r)


# ---------------------------------------------------------------- 8. ntpq

def t_ntpq_probe(e):
    """--probe ntpq: the device's own state by mode 6 (synchronized, system peer, offset);
    unsynchronized devices; devices without mode 6 or with broken mode 6 answers."""
    resp = e.responder("127.0.9.2 unsync\n"
                       "127.0.9.3 nomode6\n"
                       "127.0.9.4 mode6=huge\n"
                       "127.0.9.5 mode6=garbage\n"
                       "127.0.9.6 mode6=error\n"
                       "127.0.9.7 sysoffset=-0.0123 refid=10.1.2.3\n"
                       "127.0.9.8 offset=0.4 sysoffset=0.002\n")
    names = {1: "good", 2: "unsync", 3: "nomode6", 4: "huge", 5: "garbage", 6: "error",
             7: "peer", 8: "late"}
    for i, n in names.items():
        e.ok("add", resp.addr("127.0.9.%d" % i), "--name", n, "--probe", "ntpq")
    e.ok("add", resp.addr("127.0.9.21"), "--name", "plain-ntp")
    for _ in range(2):  # twice: the second sweep sees the same
        e.sweep()
        d = {k: v["result"] for k, v in e.devices().items()}
        g = d["good"]
        check(g["status"] == "ok" and g["device_synchronized"] is True and
              g["device_peer"] == "192.0.2.1" and near(g["device_offset"], 5e-05, 1e-9) and
              g["error"] is None, "good: %s" % g)
        check(near(g["offset"], 0.0, OFFSET_TOL) and g["stratum"] == 2 and
              g["refid"] == "192.0.2.1", "good NTP: %s" % g)
        u = d["unsync"]
        check(u["status"] == "unsynchronized" and u["device_synchronized"] is False and
              u["device_peer"] is None, "unsync: %s" % u)
        n6 = d["nomode6"]
        check(n6["status"] == "ok" and "mode 6" in (n6["error"] or "") and
              n6["device_synchronized"] is None and n6["device_offset"] is None and
              near(n6["offset"], 0.0, OFFSET_TOL), "nomode6: %s" % n6)
        for n in ("huge", "garbage", "error"):
            x = d[n]
            check(x["status"] == "ok" and near(x["offset"], 0.0, OFFSET_TOL),
                  "%s: the NTP result is not ok: %s" % (n, x))
        check("mode 6" in (d["error"]["error"] or ""), "mode6=error: %s" % d["error"])
        p = d["peer"]
        check(p["device_peer"] == "10.1.2.3" and near(p["device_offset"], -0.0123, 1e-9) and
              p["device_synchronized"] is True, "peer: %s" % p)
        lt = d["late"]
        check(lt["status"] == "ok" and near(lt["offset"], 0.4, OFFSET_TOL) and
              near(lt["device_offset"], 0.002, 1e-9), "late: %s" % lt)
        pn = d["plain-ntp"]
        check(pn["status"] == "ok" and pn["device_synchronized"] is None and
              pn["device_offset"] is None and pn["device_peer"] is None,
              "probe ntp: %s" % pn)
    r = e.mon("report")
    expect_rc(r, 2)
    doc = e.json("report", rc=2)
    check({x["name"]: x["level"] for x in doc["not_standard"]} ==
          {"unsync": "critical", "late": "warning"}, "report: %s" % doc["not_standard"])
    # the list's CSV shows the device columns
    rows = {row["name"]: row for row in csv_rows(e.ok("list", "--csv").out)}
    check(rows["good"]["device_synchronized"] == "yes" and
          rows["good"]["device_peer"] == "192.0.2.1" and
          near(float(rows["good"]["device_offset"]), 5e-05, 1e-9), "csv good: %s" % rows["good"])
    check(rows["plain-ntp"]["device_synchronized"] == "", "csv plain-ntp: %s" % rows["plain-ntp"])


def t_reference(e):
    """The reference (the monitor's own clock) as the local NTP daemon describes it over
    mode 6: synchronized with an offset bound, unsynchronized, serving its own clock
    (stratumd with `local stratum`), silent, not asked; recorded with the sweep and shown by
    report."""
    resp = e.responder("127.0.9.40 sysoffset=0.0005 rootdelay=0.002 rootdisp=0.003\n"
                       "127.0.9.41 unsync\n")
    e.ok("add", resp.addr("127.0.9.1"), "--name", "dev")

    def ref_of(target):
        doc = e.json("sweep", "--reference", target, "--timeout", "0.5")
        return doc["reference"]

    r = ref_of(resp.addr("127.0.9.40"))
    check(r["synchronized"] is True and near(r["offset_bound"], 0.0045, 1e-6) and
          "synchronized (stratum 2)" in r["text"], "synchronized reference: %s" % r)
    rep = e.mon("report")
    check(("reference: " + r["text"]) in rep.out, "report shows the reference:\n%s" % rep)
    r = ref_of(resp.addr("127.0.9.41"))
    check(r["synchronized"] is False and r["offset_bound"] is None and
          "NOT synchronized" in r["text"], "unsynchronized reference: %s" % r)
    r = ref_of("none")
    check(r["synchronized"] is None and "not asked" in r["text"], "no reference: %s" % r)
    r = ref_of("127.0.0.1:%d" % pg.free_port())
    check(r["synchronized"] is None and "state unknown" in r["text"], "silent reference: %s" % r)
    # stratumd serving its own clock says leap 0, stratum 8: not a checked clock
    stratumd = os.path.join(os.path.dirname(STRATUM), "stratumd")
    port = pg.free_port()
    conf = e.path("stratumd.conf")
    write_file(conf, "listen 127.0.0.1 port %d\nlocal stratum 8\nclock none\nworkers 0\n"
               "pidfile %s\n" % (port, e.path("stratumd.pid")))
    argv = [stratumd, "-c", conf, "-d"]
    if os.getuid() == 0:
        argv = ["setpriv", "--bounding-set=-sys_time"] + argv
    with open(e.path("stratumd.log"), "w") as log:
        d = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(e.path("stratumd.pid")) and time.monotonic() < deadline:
            check(d.poll() is None, "stratumd exited:\n%s" % open(e.path("stratumd.log")).read())
            time.sleep(0.05)
        r = ref_of("127.0.0.1:%d" % port)
        check(r["synchronized"] is False and "serves its own clock (refid LOCL)" in r["text"] and
              "stratumd" in r["text"], "stratumd with local stratum: %s" % r)
    finally:
        d.terminate()
        d.wait(20)


# ---------------------------------------------------------------- main

TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


def main():
    global STRATUM, RESPONDER
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print("\n".join(TESTS))
        return
    if len(sys.argv) != 5 or sys.argv[3] not in TESTS or sys.argv[4] not in ("sqlite", "pg"):
        print(__doc__)
        sys.exit(2)
    STRATUM = os.path.abspath(sys.argv[1])
    RESPONDER = os.path.abspath(sys.argv[2])
    name, backend = sys.argv[3], sys.argv[4]
    t0 = time.monotonic()
    try:
        with Env(backend) as e:
            TESTS[name](e)
    except Skip as x:
        print("SKIP %s %s: %s" % (name, backend, x))
        sys.exit(77)
    except AssertionError as x:
        print("FAIL %s %s: %s" % (name, backend, x))
        sys.exit(1)
    print("ok %s %s (%.1f s)" % (name, backend, time.monotonic() - t0))


if __name__ == "__main__":
    main()
