#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Behaviour of the `stratum` tool (query and sync) against real stratumd servers on
loopback. Each test starts its own daemons (clock none, or clock sim a chosen offset away
from this machine's clock; CAP_SYS_TIME removed from the bounding set) on free ports and
stops them by PID. Every `stratum` run is under `setpriv --bounding-set=-sys_time` too, and
`stratum sync` runs only with --dry-run or --clock sim, except in sync_system_not_permitted,
which first proves that the process cannot hold CAP_SYS_TIME. Every --json output is
validated against docs/schema/.

Usage: stratum_cli.py STRATUM STRATUMD TEST_NAME   (or 'list')
Exit: 0 pass, 1 fail, 77 skipped.
"""
import calendar
import datetime
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

STRATUM = None
STRATUMD = None
SRCDIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NOCLOCK = ["setpriv", "--bounding-set=-sys_time"]
CAP_SYS_TIME = 25
# A sim server's offset is the intended one minus its start-up latency (a few ms; more on a
# loaded machine running tests in parallel): offsets of sim servers are checked to this.
SIM_TOL = 0.1
_daemons = []


class Skip(Exception):
    pass


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port(family=socket.AF_INET, addr="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_DGRAM)
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


# ---------------------------------------------------------------- daemons

class Daemon:
    """A stratumd on 127.0.0.1 (and optionally ::1) at a free port.
    sim_ahead: None = clock none; a number = clock sim whose time runs that many seconds
    ahead of this machine's clock (fractions by starting it at the right moment)."""

    def __init__(self, local=2, sim_ahead=None, extra="", v6=False, workers=1):
        self.port = free_port()
        if v6:
            # the same port free on ::1 as well (try a few)
            for _ in range(20):
                try:
                    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                    s.bind(("::1", self.port))
                    s.close()
                    break
                except OSError:
                    self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="stratum-cli-test-")
        self.conf_path = os.path.join(self.dir, "stratum.conf")
        self.log_path = os.path.join(self.dir, "stratumd.log")
        self.local, self.sim_ahead, self.extra, self.v6, self.workers = local, sim_ahead, extra, v6, workers
        self.proc = None

    def conf(self, clock_line):
        c = "listen 127.0.0.1 port %d\n" % self.port
        if self.v6:
            c += "listen ::1 port %d\n" % self.port
        c += "%s\nworkers %d\n" % (clock_line, self.workers)
        if self.local:
            c += "local stratum %d\n" % self.local
        return c + self.extra

    def start(self):
        if self.sim_ahead is None:
            clock_line = "clock none"
        else:
            # `clock sim start T` takes whole seconds: virtual time = T + elapsed. Launch when t + ahead + LAUNCH is a whole second (LAUNCH: the few ms from here
            # to the daemon reading its clock), so the offset is `ahead` within a few ms.
            target = float(self.sim_ahead) + 0.004
            phase = (-target) % 1.0
            deadline = time.time() + 3
            while True:
                t = time.time()
                if abs(((t % 1.0) - phase + 0.5) % 1.0 - 0.5) < 0.0015 or t > deadline:
                    break
                time.sleep(0.0003)
            start = int(round(t + target))
            clock_line = "clock sim start %d" % start
        with open(self.conf_path, "w") as f:
            f.write(self.conf(clock_line))
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(NOCLOCK + [STRATUMD, "-c", self.conf_path, "-d"],
                                     stdout=logf, stderr=logf)
        logf.close()
        _daemons.append(self)
        deadline = time.time() + 10
        while time.time() < deadline:
            if "PROTO: ready" in self.log():
                return self
            if self.proc.poll() is not None:
                fail("stratumd exited %d at start:\n%s" % (self.proc.returncode, self.log()))
            time.sleep(0.02)
        fail("stratumd not ready after 10 s:\n" + self.log())

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stop_all():
    """Stops every daemon a test started and removes its scratch folder (a failed test's
    logs have been printed by then)."""
    for d in _daemons:
        d.stop()
        shutil.rmtree(d.dir, ignore_errors=True)


# ---------------------------------------------------------------- running the tool

class Result:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __str__(self):
        return "stratum %s\n  exit %d\n  stdout:\n%s\n  stderr:\n%s" % (
            " ".join(self.args), self.rc, self.out, self.err)


def stratum(*args, tz="UTC", timeout=60, prefix=None, env_extra=None):
    env = dict(os.environ)
    env["TZ"] = tz
    env["LC_ALL"] = "C"
    if env_extra:
        env.update(env_extra)
    cmd = (prefix if prefix is not None else NOCLOCK) + [STRATUM] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return Result(list(args), p.returncode, p.stdout, p.stderr)


def expect_rc(r, rc):
    check(r.rc == rc, "exit %d, want %d:\n%s" % (r.rc, rc, r))


_schemas = {}


def validate(doc, command):
    try:
        import jsonschema
    except ImportError:
        fail("python3-jsonschema is missing (scripts/install-deps.sh installs it): cannot "
             "validate against docs/schema/")
    if command not in _schemas:
        path = os.path.join(SRCDIR, "docs", "schema", "stratum-%s.schema.json" % command)
        with open(path) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        _schemas[command] = jsonschema.Draft202012Validator(schema)
    errors = sorted(_schemas[command].iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        fail("--json output does not match docs/schema/stratum-%s.schema.json:\n%s\n%s" % (
            command, "\n".join("  at /%s: %s" % ("/".join(str(p) for p in e.path), e.message)
                               for e in errors[:10]),
            json.dumps(doc, indent=1)))


def stratum_json(*args, **kw):
    """Runs with --json; checks stdout is one JSON document valid against the schema of
    the command; returns (Result, document)."""
    check(args[0] in ("query", "sync"), "stratum_json: not a command with --json")
    r = stratum(*args, "--json", **kw)
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        fail("stdout is not JSON (%s):\n%s" % (e, r))
    validate(doc, args[0])
    check(doc["schema_version"] == 1 and doc["command"] == args[0], "schema_version/command")
    if args[0] == "sync":
        check(doc["exit_code"] == r.rc, "exit_code %s but exit status %d" % (doc["exit_code"], r.rc))
    return r, doc


def server_of(doc, port, address=None):
    for s in doc["servers"]:
        if s["port"] == port and (address is None or s["address"] == address):
            return s
    fail("no server with port %d in %s" % (port, json.dumps(doc, indent=1)))


def parse_offset(text, label=None):
    """The offset of the server printed after `label` (or the first one)."""
    if label is not None:
        i = text.find(label + "\n")
        check(i >= 0, "no block for %s in:\n%s" % (label, text))
        text = text[i:]
    m = re.search(r"^  offset ([+-]\d+\.\d{6}) s   delay (\d+\.\d{6}) s", text, re.M)
    check(m is not None, "no offset line in:\n" + text)
    return float(m.group(1))


def decision_offset(out):
    m = re.search(r"(?:by|offset) ([+-]\d+\.\d+) s", out)
    check(m is not None, "no 'by OFFSET s' in:\n" + out)
    return float(m.group(1))


# ---------------------------------------------------------------- query

def t_query_text():
    """local stratum 2, clock none: offset, stratum, server time in UTC and in the local
    zone (Europe/Berlin: CET/CEST with +0100/+0200; UTC)."""
    d = Daemon().start()
    before = time.time()
    r = stratum("query", d.addr(), tz="Europe/Berlin")
    after = time.time()
    expect_rc(r, 0)
    out = r.out
    check(out.startswith(d.addr() + "\n"), "first line is not the server %s:\n%s" % (d.addr(), out))
    off = parse_offset(out)
    check(abs(off) < 0.05, "offset %+f s from a server on this clock" % off)
    check(re.search(r"^  stratum 2   refid .+?   leap none   precision 2\^-\d+ s .*NTPv4$", out, re.M),
          "stratum/leap/version line:\n" + out)
    check("(best of 1/1)" in out, "one sample by default:\n" + out)
    m = re.search(r"^  server time (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) UTC\n"
                  r" {14}(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) (CET|CEST) \(([+-]\d{4})\)$", out, re.M)
    check(m is not None, "server time lines (UTC, then Europe/Berlin CET/CEST):\n" + out)
    utc = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    loc = datetime.datetime.strptime(m.group(2), "%Y-%m-%d %H:%M:%S.%f")
    zone, zoff = m.group(3), m.group(4)
    want = {"CET": "+0100", "CEST": "+0200"}[zone]
    check(zoff == want, "%s printed with %s, want %s" % (zone, zoff, want))
    shift = (loc - utc).total_seconds()
    check(shift == (3600 if zone == "CET" else 7200), "local - UTC = %g s for %s" % (shift, zone))
    t = calendar.timegm(utc.timetuple()) + utc.microsecond / 1e6
    check(before - 1 <= t <= after + 1, "server time %s is not now" % m.group(1))
    # The zone is the real one for that date: compare with Python's own tz database.
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    check(time.localtime(t).tm_zone == zone, "zone %s, tz database says %s" % (zone, time.localtime(t).tm_zone))
    os.environ["TZ"] = "UTC"
    time.tzset()

    r = stratum("query", d.addr(), tz="UTC")
    expect_rc(r, 0)
    m = re.search(r"^  server time (\S+ \S+) UTC\n {14}(\S+ \S+) UTC \(\+0000\)$", r.out, re.M)
    check(m is not None and m.group(1) == m.group(2), "TZ=UTC: local line must equal the UTC one:\n" + r.out)

    # JSON in Europe/Berlin: the same instant twice, RFC 3339 offsets with a colon.
    r, doc = stratum_json("query", d.addr(), tz="Europe/Berlin")
    expect_rc(r, 0)
    s = doc["servers"][0]
    check(s["timezone"] in ("CET", "CEST"), "timezone %r" % s["timezone"])
    suffix = "+01:00" if s["timezone"] == "CET" else "+02:00"
    check(s["server_time_local"].endswith(suffix), "server_time_local %s for %s" % (
        s["server_time_local"], s["timezone"]))
    u = datetime.datetime.strptime(s["server_time_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    lo = datetime.datetime.fromisoformat(s["server_time_local"])
    check(u == lo, "server_time_utc %s and server_time_local %s differ" % (
        s["server_time_utc"], s["server_time_local"]))

    # Summer time: a server whose (simulated) clock is in July 2027 is shown in CEST, +0200.
    july = Daemon(sim_ahead=1815000000 - time.time()).start()   # 2027-07-06
    r = stratum("query", july.addr(), tz="Europe/Berlin")
    expect_rc(r, 0)
    check(re.search(r"^  server time 2027-07-0\d (\d\d):\d\d:\d\d\.\d{6} UTC\n {14}2027-07-0\d \d\d:\d\d:\d\d\.\d{6} "
                    r"CEST \(\+0200\)$", r.out, re.M), "July in Europe/Berlin: want CEST (+0200):\n" + r.out)
    r, doc = stratum_json("query", july.addr(), tz="Europe/Berlin")
    s = doc["servers"][0]
    check(s["timezone"] == "CEST" and s["server_time_local"].endswith("+02:00")
          and s["server_time_utc"].startswith("2027-07-0"), "July JSON: %r" % s)


def t_refid_local_clock():
    """A stratumd serving from its local clock announces the refid 'LOCL' (its ASCII form on
    the wire, 0x4C4F434C). The tool should show it as LOCL (or, should the daemon switch to
    the 127.127.1.x convention chronyd and ntpd use for a local clock above stratum 1, as
    that address), not as the meaningless dotted quad 76.79.67.76."""
    d = Daemon(local=2).start()
    r = stratum("query", d.addr())
    expect_rc(r, 0)
    m = re.search(r"^  stratum 2   refid (.+?)   leap ", r.out, re.M)
    check(m is not None, "no stratum/refid line:\n" + r.out)
    # LOCL as a word ("LOCL", "76.79.67.76 (LOCL)"), or a 127.127.1.x address
    ok = re.compile(r"(^|\W)LOCL(\W|$)|^127\.127\.1\.\d+$")
    check(ok.search(m.group(1)), "text: refid %s, want LOCL (the daemon's local clock)" % m.group(1))
    r, doc = stratum_json("query", d.addr())
    check(ok.search(doc["servers"][0]["refid"]), "JSON: refid %r, want LOCL" % doc["servers"][0]["refid"])


def t_samples():
    d = Daemon().start()
    r, doc = stratum_json("query", "-n", "4", "-i", "0.05", d.addr())
    expect_rc(r, 0)
    s = doc["servers"][0]
    check(s["samples_sent"] == 4 and s["samples_ok"] == 4, "samples %d/%d, want 4/4" % (
        s["samples_ok"], s["samples_sent"]))
    r = stratum("query", "-n", "4", "-i", "0.05", d.addr())
    expect_rc(r, 0)
    check("(best of 4/4)" in r.out, "text: want '(best of 4/4)':\n" + r.out)
    # -i is honoured: 3 intervals of 0.3 s between 4 rounds
    t0 = time.monotonic()
    r = stratum("query", "-n", "4", "-i", "0.3", d.addr())
    el = time.monotonic() - t0
    expect_rc(r, 0)
    check(0.85 <= el <= 5, "-n 4 -i 0.3 took %.3f s, want about 0.9 s" % el)
    # --ntp-version 3: the server answers in kind
    r, doc = stratum_json("query", "--ntp-version", "3", d.addr())
    check(doc["servers"][0]["version"] == 3, "--ntp-version 3: reply version %d" % doc["servers"][0]["version"])


def t_json_schema():
    d = Daemon().start()
    r, doc = stratum_json("query", d.addr())
    expect_rc(r, 0)
    check(len(doc["servers"]) == 1, "servers: %d" % len(doc["servers"]))
    s = doc["servers"][0]
    check(s["status"] == "ok" and s["error"] is None, "status %r error %r" % (s["status"], s["error"]))
    check(abs(s["offset"]) < 0.05, "offset %r" % s["offset"])
    check(s["stratum"] == 2 and s["leap"] == "none" and s["version"] == 4,
          "stratum %r leap %r version %r" % (s["stratum"], s["leap"], s["version"]))
    check(s["host"] == "127.0.0.1" and s["address"] == "127.0.0.1" and s["port"] == d.port, "host/address/port")
    check(0 <= s["delay"] < 0.05 and s["root_delay"] == 0, "delay %r root_delay %r" % (s["delay"], s["root_delay"]))
    check(0 < s["root_distance"] < 0.1, "root_distance %r" % s["root_distance"])
    check(-30 <= s["precision"] <= -10, "precision %r" % s["precision"])
    check(s["truechimer"] is True, "truechimer")
    a = doc["agreement"]
    check(a["answered"] == 1 and a["agree"] == 1 and a["offset"] == s["offset"], "agreement %r" % a)
    check(a["low"] <= a["offset"] <= a["high"], "agreement interval %r" % a)
    # the text and the JSON tell the same story about the same server
    check(r.err == "", "stderr not empty: %r" % r.err)


def agreement_case(ahead):
    good1 = Daemon().start()
    good2 = Daemon().start()
    off = Daemon(sim_ahead=ahead).start()
    args = ["query", good1.addr(), off.addr(), good2.addr()]
    r = stratum(*args)
    expect_rc(r, 0)
    m = re.search(r"^agreement: (\d+) of (\d+) servers agree; combined offset ([+-]\d+\.\d+) s", r.out, re.M)
    check(m is not None, "no agreement line:\n" + r.out)
    check(m.group(1) == "2" and m.group(2) == "3", "agreement %s of %s, want 2 of 3" % (m.group(1), m.group(2)))
    check(abs(float(m.group(3))) < 0.05, "combined offset %s" % m.group(3))
    ft = re.findall(r"^  falseticker: (\S+) \(offset ([+-]\d+\.\d+) s\)$", r.out, re.M)
    check(len(ft) == 1 and ft[0][0] == off.addr(), "falsetickers %r, want only %s" % (ft, off.addr()))
    check(abs(float(ft[0][1]) - ahead) < SIM_TOL, "falseticker offset %s, want %+g" % (ft[0][1], ahead))
    check(abs(parse_offset(r.out, off.addr()) - ahead) < SIM_TOL, "offset of the off server")
    r, doc = stratum_json(*args)
    expect_rc(r, 0)
    a = doc["agreement"]
    check(a["answered"] == 3 and a["agree"] == 2 and abs(a["offset"]) < 0.05, "agreement %r" % a)
    check(server_of(doc, off.port)["truechimer"] is False, "the off server is a truechimer")
    check(server_of(doc, good1.port)["truechimer"] and server_of(doc, good2.port)["truechimer"],
          "a right server is not a truechimer")
    check(abs(server_of(doc, off.port)["offset"] - ahead) < SIM_TOL, "JSON offset of the off server")


def t_agreement_hour_off():
    agreement_case(3600)


def t_agreement_2s_off():
    agreement_case(2)


def t_unsynchronized():
    d = Daemon(local=0).start()
    r = stratum("query", d.addr())
    expect_rc(r, 3)
    check("not synchronized" in r.out, "text should say 'not synchronized':\n%s" % r)
    r, doc = stratum_json("query", d.addr())
    expect_rc(r, 3)
    s = doc["servers"][0]
    check(s["status"] == "unsynchronized" and s["samples_ok"] == 0 and "offset" not in s,
          "JSON: %r" % s)
    check(doc["agreement"]["answered"] == 0 and doc["agreement"]["offset"] is None, "agreement")
    # one usable server next to it: exit 0
    good = Daemon().start()
    r = stratum("query", d.addr(), good.addr())
    expect_rc(r, 0)


KOD_CONF = "restrict default limited kod\ndiscard average 3 minimum 2\n"


def burst(port, n):
    """n requests from 127.0.0.1 (the limiter keys on the address, not the port)."""
    answered = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        x = random.getrandbits(64)
        s.sendto(struct.pack(">BBbbIII4Q", 0x23, 0, 6, 0, 0, 0, 0, 0, 0, 0, x), ("127.0.0.1", port))
        try:
            data = s.recv(100)
            if len(data) >= 48 and data[1] != 0:
                answered += 1
        except socket.timeout:
            pass
        s.close()
    return answered


def t_kod_rate():
    """stratumd limits 127.0.0.1 (burst 8, then a RATE KoD once per 8 s, then silence).
    A KoD before any usable sample: status kod, kiss code RATE, exit 3, and the tool stops
    asking that server (RFC 5905 sec. 7.4)."""
    d = Daemon(extra=KOD_CONF).start()
    check(burst(d.port, 8) == 8, "the first 8 requests were not all answered")
    r = stratum("query", "-n", "5", "-i", "0", "-t", "0.3", d.addr())
    expect_rc(r, 3)
    check(re.search(r"kod: kiss-o'-death RATE", r.out), "text should name the RATE kiss code:\n%s" % r)
    d2 = Daemon(extra=KOD_CONF).start()
    check(burst(d2.port, 8) == 8, "the first 8 requests were not all answered")
    r, doc = stratum_json("query", "-n", "5", "-i", "0", "-t", "0.3", d2.addr())
    expect_rc(r, 3)
    s = doc["servers"][0]
    check(s["status"] == "kod" and s.get("kiss_code") == "RATE", "JSON: %r" % s)
    check(s["samples_sent"] == 1 and s["samples_ok"] == 0,
          "kept asking after the KoD: samples %d/%d" % (s["samples_ok"], s["samples_sent"]))


def t_kod_rate_after_ok():
    """-n 20 -i 0 against a fresh limited server: 8 answers, then a RATE KoD. The earlier
    samples stand (status ok, exit 0), but the KoD must be reported (RATE in the text, and
    kiss_code in the JSON) and the tool must stop asking (RFC 5905 sec. 7.4: reduce the
    rate at once; a one-shot query has nothing left to reduce)."""
    d = Daemon(extra=KOD_CONF).start()
    r = stratum("query", "-n", "20", "-i", "0", "-t", "0.2", d.addr())
    expect_rc(r, 0)
    m = re.search(r"\(best of (\d+)/(\d+)\)", r.out)
    check(m is not None, "no '(best of N/M)':\n" + r.out)
    n_ok, n_sent = int(m.group(1)), int(m.group(2))
    check(1 <= n_ok <= 8, "%d answers from a server limited to a burst of 8" % n_ok)
    d2 = Daemon(extra=KOD_CONF).start()
    r2, doc = stratum_json("query", "-n", "20", "-i", "0", "-t", "0.2", d2.addr())
    expect_rc(r2, 0)
    s = doc["servers"][0]
    check(s["status"] == "ok" and 1 <= s["samples_ok"] <= 8, "JSON: %r" % s)
    problems = []
    if "RATE" not in r.out:
        problems.append("text does not mention the RATE kiss-o'-death")
    if s.get("kiss_code") != "RATE":
        problems.append("JSON has no kiss_code RATE (got %r)" % s.get("kiss_code"))
    if n_sent > n_ok + 1 or s["samples_sent"] > s["samples_ok"] + 1:
        problems.append("kept sending after the KoD: text %d sent / %d ok, JSON %d sent / %d ok"
                        % (n_sent, n_ok, s["samples_sent"], s["samples_ok"]))
    check(not problems, "; ".join(problems) + ":\n" + r.out)


def t_name_unresolvable():
    r = stratum("query", "no-such-host.invalid")
    expect_rc(r, 2)
    check("cannot resolve 'no-such-host.invalid'" in r.out + r.err, "message:\n%s" % r)
    r, doc = stratum_json("query", "no-such-host.invalid:1234")
    expect_rc(r, 2)
    s = doc["servers"][0]
    check(s["status"] == "name_error" and s["address"] is None and s["port"] == 1234
          and s["samples_sent"] == 0, "JSON: %r" % s)


def t_json_utf8():
    """--json output is UTF-8 (RFC 8259 sec. 8.1) whatever bytes a host argument has: a
    name with an invalid UTF-8 byte (0xFF) must come out escaped or replaced, not raw."""
    env = dict(os.environ, TZ="UTC", LC_ALL="C")
    for host in (b"caf\xc3\xa9.invalid", b"bad\xffname.invalid", b"ctl\x01\x1f\"q\\.invalid"):
        p = subprocess.run(NOCLOCK + [STRATUM.encode(), b"query", b"--json", host], capture_output=True,
                           timeout=30, env=env)
        check(p.returncode == 2, "exit %d for %r" % (p.returncode, host))
        try:
            text = p.stdout.decode("utf-8")
        except UnicodeDecodeError as e:
            fail("--json output for host %r is not UTF-8 (%s): %r" % (host, e, p.stdout[:120]))
        doc = json.loads(text)
        validate(doc, "query")
        check(doc["servers"][0]["status"] == "name_error", "status %r" % doc["servers"][0]["status"])
        if host == b"caf\xc3\xa9.invalid":
            check(doc["servers"][0]["host"] == "caf\u00e9.invalid", "valid UTF-8 mangled: %r" % doc["servers"][0]["host"])


def t_nothing_listening():
    port = free_port()
    r = stratum("query", "-t", "0.5", "127.0.0.1:%d" % port)
    expect_rc(r, 2)
    check("refused" in r.out, "text should say refused:\n%s" % r)
    r, doc = stratum_json("query", "-t", "0.5", "127.0.0.1:%d" % port)
    expect_rc(r, 2)
    check(doc["servers"][0]["status"] == "refused", "JSON status %r" % doc["servers"][0]["status"])
    # A socket that never answers: a timeout, also exit 2, within the timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        r, doc = stratum_json("query", "-t", "0.3", "-n", "2", "-i", "0", "127.0.0.1:%d" % s.getsockname()[1])
        el = time.monotonic() - t0
        expect_rc(r, 2)
        sv = doc["servers"][0]
        check(sv["status"] == "timeout" and "no answer within 0.3 s" in sv["error"]
              and sv["samples_sent"] == 2, "JSON: %r" % sv)
        check(el < 3, "two 0.3 s timeouts took %.2f s" % el)
    finally:
        s.close()


def t_bad_arguments():
    cases = [
        (["query", "--frobnicate", "127.0.0.1"], "unknown option"),
        (["query", "-x", "127.0.0.1"], "unknown option"),
        (["query", "-n", "0", "127.0.0.1"], "--samples"),
        (["query", "-n", "65", "127.0.0.1"], "--samples"),
        (["query", "--port", "70000", "127.0.0.1"], "--port"),
        (["query", "-p", "0", "127.0.0.1"], "--port"),
        (["query", "-t", "0", "127.0.0.1"], "--timeout"),
        (["query", "-i", "-1", "127.0.0.1"], "--interval"),
        (["query", "--ntp-version", "5", "127.0.0.1"], "--ntp-version"),
        (["query"], "no server given"),
        (["sync", "--dry-run"], "no server given"),
        (["query", "-n"], "needs a value"),
        (["query", "[::1"], "missing ']'"),
        (["query", "[::1]x"], "expected ':PORT'"),
        (["query", "[::1]:"], "port must be"),
        (["query", "127.0.0.1:70000"], "port must be"),
        (["query", "127.0.0.1:0"], "port must be"),
        (["query", "127.0.0.1:ntp"], "port must be"),
        (["query", ":123"], "bad server name"),
        (["query", "--clock", "atomic", "127.0.0.1"], "--clock"),
        (["query", "--dry-run", "127.0.0.1"], "option of 'stratum sync'"),
        (["sync", "--step", "--slew", "--dry-run", "127.0.0.1"], "not both"),
        (["sync", "--min-agree", "0", "--dry-run", "127.0.0.1"], "--min-agree"),
        (["sync", "--max-step", "-1", "--dry-run", "127.0.0.1"], "--max-step"),
        (["frobnicate"], "not a command"),
        ([], "Usage"),
    ]
    bad = []
    for args, word in cases:
        r = stratum(*args)
        if r.rc != 1 or word not in r.err or r.out != "":
            bad.append("%s: exit %d, stderr %r, stdout %r (want exit 1, %r on stderr, nothing on stdout)"
                       % (" ".join(args) or "(no arguments)", r.rc, r.err.strip(), r.out[:80], word))
    check(not bad, "\n  ".join([""] + bad))
    # help and version are not errors
    for args, word in ((["--help"], "Usage: stratum COMMAND"), (["query", "--help"], "Usage: stratum query"),
                       (["sync", "-h"], "--max-step"), (["--version"], "stratum ")):
        r = stratum(*args)
        check(r.rc == 0 and word in r.out, "%s: exit %d, stdout %r" % (" ".join(args), r.rc, r.out[:200]))


def t_bad_integer_arguments():
    """Options that take a whole number must refuse fractions and other notations (today
    `-n 2.5` runs 2 rounds, `-p 0x7b` means port 123): a typo should not be reinterpreted."""
    bad = []
    for args in (["-n", "2.5"], ["--port", "123.9"], ["-p", "0x7b"], ["--ntp-version", "3.5"],
                 ["-n", "1e1"]):
        r = stratum("query", "-t", "0.2", "-i", "0", *args, "127.0.0.1:%d" % free_port())
        if r.rc != 1 or r.err == "":
            bad.append("%s: exit %d (want 1 with a message), stderr %r" % (" ".join(args), r.rc, r.err.strip()))
    check(not bad, "\n  ".join([""] + bad))


def t_ipv6():
    if not have_ipv6():
        raise Skip("no IPv6 loopback")
    d = Daemon(v6=True).start()
    r = stratum("query", "[::1]:%d" % d.port)
    expect_rc(r, 0)
    check(r.out.startswith("[::1]:%d\n" % d.port), "label:\n" + r.out)
    check(abs(parse_offset(r.out)) < 0.05, "offset")
    # a bare IPv6 address takes the port from -p
    r, doc = stratum_json("query", "-p", str(d.port), "::1")
    expect_rc(r, 0)
    s = doc["servers"][0]
    check(s["address"] == "::1" and s["port"] == d.port and s["status"] == "ok" and s["stratum"] == 2,
          "JSON: %r" % s)


def t_family_filter():
    """'localhost' with both 127.0.0.1 and ::1 (a private /etc/hosts in a private mount
    namespace): both asked by default, -4 only 127.0.0.1, -6 only ::1."""
    if not have_ipv6():
        raise Skip("no IPv6 loopback")
    if os.geteuid() != 0 or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        raise Skip("needs root and unshare -m (private /etc/hosts)")
    d = Daemon(v6=True).start()
    hosts = os.path.join(d.dir, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost\n")
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount --bind "$0" /etc/hosts && exec "$@"', hosts] + NOCLOCK
    want = {(): {"127.0.0.1", "::1"}, ("-4",): {"127.0.0.1"}, ("-6",): {"::1"}}
    for opt, addrs in want.items():
        r, doc = stratum_json("query", *opt, "localhost:%d" % d.port, prefix=prefix)
        expect_rc(r, 0)
        got = {s["address"] for s in doc["servers"]}
        check(got == addrs, "query %s localhost: addresses %s, want %s" % (" ".join(opt), got, addrs))
        check(all(s["status"] == "ok" and s["host"] == "localhost" for s in doc["servers"]), "statuses")
    r = stratum("query", "-6", "localhost:%d" % d.port, prefix=prefix)
    check(re.search(r"^localhost \[::1\]:%d$" % d.port, r.out, re.M), "text label:\n" + r.out)
    # without the private hosts file -4 still means IPv4 only, whatever the machine has
    r, doc = stratum_json("query", "-4", "localhost:%d" % d.port)
    check(all(":" not in (s["address"] or "") for s in doc["servers"]), "-4 gave IPv6: %r" % doc["servers"])


# ---------------------------------------------------------------- sync (dry run / sim clock)

def t_sync_max_step():
    d = Daemon(sim_ahead=3600).start()
    r = stratum("sync", "--dry-run", "-i", "0.1", d.addr())
    expect_rc(r, 3)
    check("beyond --max-step 1000 s" in r.out, "want 'beyond --max-step':\n%s" % r)
    r, doc = stratum_json("sync", "--dry-run", "-i", "0.1", d.addr())
    dec = doc["decision"]
    check(dec["action"] == "refuse-too-large" and abs(dec["offset"] - 3600) < SIM_TOL
          and dec["max_step"] == 1000 and not dec["applied"], "decision %r" % dec)
    r = stratum("sync", "--dry-run", "--force", "-i", "0.1", d.addr())
    expect_rc(r, 0)
    check("dry run: would step the system clock by +" in r.out, "want 'would step':\n%s" % r)
    check(abs(decision_offset(r.out.splitlines()[-1]) - 3600) < SIM_TOL, "offset, want +3600:\n%s" % r)
    r = stratum("sync", "--dry-run", "--max-step", "4000", "-i", "0.1", d.addr())
    expect_rc(r, 0)
    check("would step" in r.out, "--max-step 4000:\n%s" % r)


def t_sync_dry_run_modes():
    big = Daemon(sim_ahead=0.5).start()
    small = Daemon(sim_ahead=0.05).start()
    cases = [
        ([], big, "step", 0.5),
        ([], small, "slew", 0.05),
        (["--slew"], big, "slew", 0.5),
        (["--step"], small, "step", 0.05),
        (["--threshold", "1"], big, "slew", 0.5),
        (["--threshold", "0.01"], small, "step", 0.05),
    ]
    for opts, d, action, ahead in cases:
        r = stratum("sync", "--dry-run", "-i", "0.1", *opts, d.addr())
        expect_rc(r, 0)
        check(re.search(r"^dry run: would %s the system clock by \+\d" % action, r.out, re.M),
              "%s against %+g s: want 'would %s':\n%s" % (" ".join(opts), ahead, action, r))
        off = decision_offset(r.out)
        # (0.05 s ahead: anything under the 0.128 s threshold is the point of the case)
        check(abs(off - ahead) < SIM_TOL if ahead > 0.1 else 0 < off < 0.128,
              "offset %+f, server %+g s ahead" % (off, ahead))
        r, doc = stratum_json("sync", "--dry-run", "-i", "0.1", *opts, d.addr())
        dec = doc["decision"]
        check(dec["action"] == action and dec["dry_run"] is True and dec["applied"] is False
              and dec["clock"] == "system" and dec["rtc"] is None, "decision %r" % dec)


def t_sync_sim_clock():
    d = Daemon(sim_ahead=0.5).start()
    r = stratum("sync", "--clock", "sim", "-i", "0.1", d.addr())
    expect_rc(r, 0)
    check(re.search(r"^stepped the sim clock by \+0\.[3-7]\d* s$", r.out, re.M), "want 'stepped the sim clock':\n%s" % r)
    r, doc = stratum_json("sync", "--clock", "sim", "-i", "0.1", d.addr())
    expect_rc(r, 0)
    dec = doc["decision"]
    check(dec["action"] == "step" and dec["applied"] is True and dec["clock"] == "sim"
          and dec["dry_run"] is False and dec["error"] is None and abs(dec["offset"] - 0.5) < SIM_TOL,
          "decision %r" % dec)
    small = Daemon(sim_ahead=0.05).start()
    r = stratum("sync", "--clock", "sim", "-i", "0.1", small.addr())
    expect_rc(r, 0)
    check(re.search(r"^slewed the sim clock by \+0\.0\d+ s", r.out, re.M), "want 'slewed the sim clock':\n%s" % r)
    # --clock none never corrects: an error (exit 1), the reason in the JSON
    r, doc = stratum_json("sync", "--clock", "none", "-i", "0.1", d.addr())
    expect_rc(r, 1)
    check(doc["decision"]["applied"] is False and "never adjusts" in (doc["decision"]["error"] or ""),
          "clock none: %r" % doc["decision"])


def t_sync_disagree():
    a = Daemon().start()
    b = Daemon(sim_ahead=3600).start()
    r = stratum("sync", "--dry-run", "-i", "0.1", a.addr(), b.addr())
    expect_rc(r, 3)
    check(re.search(r"^not changing the clock: 0 of 2 servers agree, 2 required$", r.out, re.M),
          "want '0 of 2 servers agree, 2 required':\n%s" % r)
    r, doc = stratum_json("sync", "--dry-run", "-i", "0.1", a.addr(), b.addr())
    check(doc["decision"]["action"] == "refuse-disagree" and doc["decision"]["required_agree"] == 2
          and doc["agreement"]["agree"] == 0, "decision %r" % doc["decision"])
    # two right, one far off: the majority wins and the combined offset is the right one
    c = Daemon().start()
    r = stratum("sync", "--dry-run", "-i", "0.1", a.addr(), b.addr(), c.addr())
    expect_rc(r, 0)
    check("2 of 3 servers agree" in r.out, "2 of 3:\n%s" % r)
    check(abs(decision_offset(r.out.splitlines()[-1])) < 0.05, "combined offset:\n%s" % r)


def t_sync_min_agree():
    a = Daemon().start()
    b = Daemon().start()
    r = stratum("sync", "--dry-run", "--min-agree", "3", "-i", "0.1", a.addr(), b.addr())
    expect_rc(r, 3)
    check(re.search(r"^not changing the clock: 2 of 2 servers agree, 3 required$", r.out, re.M),
          "want '2 of 2 servers agree, 3 required':\n%s" % r)
    r, doc = stratum_json("sync", "--dry-run", "--min-agree", "3", "-i", "0.1", a.addr(), b.addr())
    dec = doc["decision"]
    check(dec["action"] == "refuse-disagree" and dec["required_agree"] == 3 and doc["agreement"]["agree"] == 2,
          "decision %r" % dec)
    r = stratum("sync", "--dry-run", "--min-agree", "2", "-i", "0.1", a.addr(), b.addr())
    expect_rc(r, 0)


def t_sync_no_server():
    r, doc = stratum_json("sync", "--dry-run", "-t", "0.3", "-n", "1", "127.0.0.1:%d" % free_port())
    expect_rc(r, 2)
    check(doc["decision"]["action"] == "refuse-none" and doc["decision"]["offset"] is None, "%r" % doc["decision"])
    u = Daemon(local=0).start()
    r = stratum("sync", "--dry-run", "-n", "1", u.addr())
    expect_rc(r, 3)
    check("no server gave a usable answer" in r.out and "not synchronized" in r.out, "%s" % r)


def read_rtc(path):
    with open(path) as f:
        text = f.read()
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC\n", text)
    check(m is not None, "RTC file content %r" % text)
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))


def t_sync_rtc_file():
    d = Daemon(sim_ahead=30.5).start()
    rtc = os.path.join(d.dir, "rtc")
    with open(rtc, "w") as f:
        f.write("untouched\n")
    r = stratum("sync", "--dry-run", "--rtc-device", rtc, "-i", "0.1", d.addr())
    expect_rc(r, 0)
    check("dry run: would set the hardware clock %s" % rtc in r.out, "%s" % r)
    check(open(rtc).read() == "untouched\n", "--dry-run wrote the RTC file")
    r, doc = stratum_json("sync", "--clock", "sim", "--rtc", "--rtc-device", rtc, "-i", "0.1", d.addr())
    now = time.time()
    expect_rc(r, 0)
    check(doc["decision"]["rtc"] == {"device": rtc, "applied": True, "error": None}, "rtc %r" % doc["decision"]["rtc"])
    t = read_rtc(rtc)
    server_now = now + 30.5
    check(abs(t - server_now) <= 1.5, "RTC %s, server time about %s (%+.1f s)" % (
        time.strftime("%H:%M:%S", time.gmtime(t)), time.strftime("%H:%M:%S", time.gmtime(server_now)),
        t - server_now))
    r = stratum("sync", "--clock", "sim", "--rtc-device", rtc, "-i", "0.1", d.addr())
    expect_rc(r, 0)
    check("set the hardware clock %s" % rtc in r.out, "%s" % r)
    # a device that cannot be opened: an error in the text and JSON, not a crash
    r, doc = stratum_json("sync", "--clock", "sim", "--rtc-device", os.path.join(d.dir, "missing", "rtc"),
                          "-i", "0.1", d.addr())
    check(r.rc != 0 and doc["decision"]["rtc"]["applied"] is False and doc["decision"]["rtc"]["error"],
          "missing RTC device: %s" % r)


# ---------------------------------------------------------------- the system clock, unable

CAPGUARD = r"""
import os, sys
st = open('/proc/self/status').read()
caps = {l.split(':')[0]: int(l.split()[1], 16) for l in st.splitlines() if l.startswith('Cap')}
bad = [k for k in ('CapBnd', 'CapPrm', 'CapEff', 'CapAmb', 'CapInh') if caps.get(k, 1 << 25) >> 25 & 1]
if bad:
    sys.stderr.write('capguard: CAP_SYS_TIME present in %s\n' % bad)
    sys.exit(99)
os.execv(sys.argv[1], sys.argv[1:])
"""


def t_sync_system_not_permitted():
    """The one case that runs `stratum sync` on the system clock: with CAP_SYS_TIME out of
    the bounding set (checked in the very process that then execs stratum), the kernel
    refuses: exit 4, 'not permitted', and the clock is unchanged."""
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    probe = subprocess.run(NOCLOCK + [py, "-c", CAPGUARD, "/bin/true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise Skip("cannot prove CAP_SYS_TIME is gone (setpriv: %s)" % probe.stderr.strip())
    prefix = NOCLOCK + [py, "-c", CAPGUARD]
    d = Daemon(sim_ahead=0.5).start()
    small = Daemon(sim_ahead=0.05).start()

    def measured():
        r, doc = stratum_json("query", "-n", "3", "-i", "0.05", d.addr())
        expect_rc(r, 0)
        return doc["servers"][0]["offset"]

    before = measured()
    check(abs(before - 0.5) < SIM_TOL, "sim server offset %+f before" % before)
    for server, want in ((d, "step"), (small, "slew")):
        r = stratum("sync", "-n", "1", server.addr(), prefix=prefix)
        if r.rc == 99:
            raise Skip("CAP_SYS_TIME still present: " + r.err)
        expect_rc(r, 4)
        check("not permitted" in r.err, "stderr should say 'not permitted':\n%s" % r)
        check("could not %s the clock" % want in r.out, "want 'could not %s the clock':\n%s" % (want, r))
        r, doc = stratum_json("sync", "-n", "1", server.addr(), prefix=prefix)
        expect_rc(r, 4)
        dec = doc["decision"]
        check(dec["action"] == want and dec["applied"] is False and dec["clock"] == "system"
              and "not permitted" in (dec["error"] or ""), "decision %r" % dec)
    after = measured()
    check(abs(after - before) < 0.01, "the system clock moved: offset to the sim server %+f s before, %+f s after"
          % (before, after))


TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


def main():
    global STRATUM, STRATUMD
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print("\n".join(TESTS))
        return
    if len(sys.argv) != 4 or sys.argv[3] not in TESTS:
        print(__doc__)
        sys.exit(2)
    STRATUM = os.path.abspath(sys.argv[1])
    STRATUMD = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    os.environ["TZ"] = "UTC"
    time.tzset()
    random.seed()
    try:
        TESTS[name]()
    except Skip as e:
        print("SKIP %s: %s" % (name, e))
        sys.exit(77)
    except AssertionError as e:
        print("FAIL %s: %s" % (name, e))
        for d in _daemons:
            log = d.log()
            if log:
                print("----- stratumd port %d log (last 15 lines) -----" % d.port)
                print("\n".join(log.splitlines()[-15:]))
        sys.exit(1)
    finally:
        stop_all()
    print("ok %s" % name)


if __name__ == "__main__":
    main()
