#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""`stratum status`, `stratum peers` and `stratum clients` (mode 6) against real stratumd
daemons on loopback: an upstream `local stratum 1` (clock none) and a relay (clock sim)
with two sources, the upstream and a port where nothing listens. Daemons run without
CAP_SYS_TIME (setpriv) and are stopped by PID; every --json output is validated against
docs/schema/stratum-{status,peers,clients}.schema.json. The daemon and tool helpers are
those of stratum_cli.py.

Usage: stratum_status.py STRATUM STRATUMD TEST_NAME   (or 'list')
Exit: 0 pass, 1 fail, 77 skipped.
"""
import json
import os
import re
import shutil
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stratum_cli as cli  # noqa: E402
from stratum_cli import Daemon, check, expect_rc, fail, free_port  # noqa: E402


def stratum(*args, **kw):
    return cli.stratum(*args, **kw)


def stratum_json(*args, **kw):
    """Runs with --json; stdout must be one JSON document valid against the command's
    schema, whose exit_code is the exit status. Returns (Result, document)."""
    r = stratum(*args, "--json", **kw)
    try:
        doc = json.loads(r.out)
    except ValueError as e:
        fail("stdout is not JSON (%s):\n%s" % (e, r))
    cli.validate(doc, args[0])
    check(doc["schema_version"] == 1 and doc["command"] == args[0], "schema_version/command")
    check(doc["exit_code"] == r.rc, "exit_code %s but exit status %d" % (doc["exit_code"], r.rc))
    return r, doc


def relay_pair():
    """(upstream, relay, dead_port): the relay synchronizes from the upstream; its second
    source is a port where nothing listens. Waits until the relay says synchronized."""
    up = Daemon(local=1).start()
    dead = free_port()
    relay = Daemon(local=None, sim_ahead=0, v6=cli.have_ipv6(), extra=(
        "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
        "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n" % (up.port, dead))).start()
    deadline = time.time() + 40
    while True:
        r = stratum("status", "-t", "0.5", relay.addr())
        if r.rc == 0 and re.search(r"^state +synchronized$", r.out, re.M):
            break
        if time.time() > deadline:
            fail("the relay never said synchronized:\n%s" % r)
        time.sleep(0.3)
    # The dead source is polled every 1-2 s: wait until it has been found unreachable.
    deadline = time.time() + 20
    while True:
        r = stratum("peers", "-t", "0.5", relay.addr())
        if re.search(r"^ 127\.0\.0\.1:%d .* unreachable$" % dead, r.out, re.M):
            break
        if time.time() > deadline:
            fail("the dead source never showed as unreachable:\n%s" % r)
        time.sleep(0.3)
    return up, relay, dead


# ---------------------------------------------------------------- status

def t_status_synchronized():
    """A relay synchronized to an upstream: state synchronized, stratum 2, system peer the
    upstream's address and port, refid 127.0.0.1, leap none, uptime; exit 0."""
    up, relay, _ = relay_pair()
    r = stratum("status", relay.addr())
    expect_rc(r, 0)
    out = r.out
    check(re.search(r"^server +%s \(stratumd \S+\)$" % re.escape(relay.addr()), out, re.M),
          "server line:\n" + out)
    check(re.search(r"^stratum +2$", out, re.M), "stratum 2:\n" + out)
    check(re.search(r"^system peer +127\.0\.0\.1:%d \(association \d+\)$" % up.port, out, re.M),
          "system peer = the upstream 127.0.0.1:%d:\n%s" % (up.port, out))
    check(re.search(r"^refid +127\.0\.0\.1$", out, re.M), "refid:\n" + out)
    check(re.search(r"^leap +none$", out, re.M), "leap none:\n" + out)
    check(re.search(r"^offset +[+-]\d+\.\d{6} ms$", out, re.M), "offset:\n" + out)
    check(re.search(r"^frequency +[+-]\d+\.\d{3} ppm$", out, re.M), "frequency:\n" + out)
    check(re.search(r"^root distance +\d+\.\d{3} ms \(root delay", out, re.M), "root distance:\n" + out)
    check(re.search(r"^uptime +(\d+ s|\d+m \d\ds \(\d+ s\))$", out, re.M), "uptime:\n" + out)
    check(re.search(r"^reference time +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(-?\d+ s ago\)$",
                    out, re.M), "reference time:\n" + out)

    r, doc = stratum_json("status", relay.addr())
    expect_rc(r, 0)
    check(doc["error"] is None and doc["state"] == "synchronized" and doc["state_source"] == "server",
          "state: %r" % doc)
    check(doc["stratum"] == 2 and doc["leap"] == "none", "stratum/leap: %r" % doc)
    sp = doc["system_peer"]
    check(sp is not None and sp["address"] == "127.0.0.1" and sp["port"] == up.port,
          "system_peer %r, want 127.0.0.1 port %d" % (sp, up.port))
    check(doc["software"].startswith("stratumd "), "software %r" % doc["software"])
    check(isinstance(doc["uptime"], int) and doc["uptime"] >= 0, "uptime %r" % doc["uptime"])
    check(abs(doc["root_distance"] - (doc["root_delay"] / 2 + doc["root_dispersion"])) < 1e-6,
          "root distance = root delay / 2 + root dispersion: %r" % doc)
    check(doc["clock_source"] == "sync_ntp", "clock_source %r" % doc["clock_source"])
    check(doc["status_word"] >> 14 == 0, "leap bits of the status word: %#x" % doc["status_word"])


def t_status_unsynchronized():
    """A stratumd with neither sources nor a local clock: state unsynchronized, leap alarm,
    exit 3 (the output is still complete); JSON exit_code 3 with no error."""
    d = Daemon(local=None).start()
    r = stratum("status", d.addr())
    expect_rc(r, 3)
    check(re.search(r"^state +unsynchronized$", r.out, re.M), "state:\n" + r.out)
    check(re.search(r"^leap +alarm", r.out, re.M), "leap alarm:\n" + r.out)
    check(re.search(r"^system peer +none$", r.out, re.M), "no system peer:\n" + r.out)
    check(r.err == "", "nothing on stderr: %r" % r.err)
    r, doc = stratum_json("status", d.addr())
    expect_rc(r, 3)
    check(doc["error"] is None and doc["state"] == "unsynchronized" and doc["leap"] == "unsynchronized"
          and doc["system_peer"] is None, "JSON: %r" % doc)


def t_status_local_clock():
    """`local stratum 3` and no sources: state local clock, exit 0; and the host argument
    defaults to 127.0.0.1 (given only -p)."""
    d = Daemon(local=3).start()
    r = stratum("status", "-p", str(d.port))
    expect_rc(r, 0)
    check(re.search(r"^server +127\.0\.0\.1:%d " % d.port, r.out, re.M), "default host:\n" + r.out)
    check(re.search(r"^state +local clock$", r.out, re.M), "state:\n" + r.out)
    check(re.search(r"^stratum +3$", r.out, re.M), "stratum:\n" + r.out)
    check(re.search(r"^refid +LOCL$", r.out, re.M), "refid:\n" + r.out)
    r, doc = stratum_json("status", "-p", str(d.port))
    check(doc["state"] == "local clock" and doc["stratum"] == 3 and doc["exit_code"] == 0,
          "JSON: %r" % doc)


# ---------------------------------------------------------------- peers

def t_peers_tally():
    """The relay's sources as ntpq -p shows them: '*' for the upstream (stratum 1, refid
    .LOCL., reach > 0), ' ' for the silent one (stratum 16, .INIT., reach 0) with its reason
    in the why column; the JSON says the same."""
    up, relay, dead = relay_pair()
    r = stratum("peers", relay.addr())
    expect_rc(r, 0)
    lines = r.out.splitlines()
    check(re.match(r"^ +remote +refid +st t when poll reach +delay +offset +jitter why$", lines[0]),
          "header:\n" + r.out)
    check(re.match(r"^=+$", lines[1]), "rule:\n" + r.out)
    row = r"^%s127\.0\.0\.1:%d +(\S+) +(\d+) u +(\S+) +(\d+) +(\d+) +(-?[\d.]+) +(-?[\d.]+) +(-?[\d.]+)(.*)$"
    m = re.search(row % (r"\*", up.port), r.out, re.M)
    check(m is not None, "no '*' row for the upstream 127.0.0.1:%d:\n%s" % (up.port, r.out))
    check(m.group(1) == ".LOCL." and m.group(2) == "1", "upstream refid/stratum: %r" % (m.groups(),))
    check(int(m.group(5), 8) > 0, "upstream reach %s" % m.group(5))
    check(m.group(9).strip() == "", "the system peer has no why: %r" % m.group(9))
    m = re.search(row % (" ", dead), r.out, re.M)
    check(m is not None, "no ' ' row for the silent source 127.0.0.1:%d:\n%s" % (dead, r.out))
    check(m.group(1) == ".INIT." and m.group(2) == "16" and m.group(5) == "0",
          "silent source refid/stratum/reach: %r" % (m.groups(),))
    check(m.group(9).strip() == "unreachable", "why %r, want unreachable" % m.group(9))

    r, doc = stratum_json("peers", relay.addr())
    expect_rc(r, 0)
    by_port = {p["port"]: p for p in doc["peers"]}
    check(set(by_port) == {up.port, dead}, "two peers: %r" % doc["peers"])
    u, z = by_port[up.port], by_port[dead]
    check(u["tally"] == "*" and u["condition"] == "sys.peer" and u["why"] is None
          and u["stratum"] == 1 and u["reach"] > 0 and u["type"] == "u"
          and u["remote"] == "127.0.0.1:%d" % up.port, "upstream: %r" % u)
    check(isinstance(u["delay"], float) and 0 <= u["delay"] < 0.1, "upstream delay %r" % u["delay"])
    check(z["tally"] == " " and z["condition"] == "reject" and z["why"] == "unreachable"
          and z["reach"] == 0 and z["stratum"] == 16 and z["when"] is None, "silent: %r" % z)
    ids = [p["associd"] for p in doc["peers"]]
    check(ids == sorted(ids), "peers by association id: %r" % ids)

    # The status' system peer is the association with '*'.
    r, st = stratum_json("status", relay.addr())
    check(st["system_peer"]["associd"] == u["associd"], "status %r vs peers %r" % (st["system_peer"], u))


def t_peers_no_sources():
    """A server without associations: the header only, exit 0; JSON peers []."""
    d = Daemon(local=2).start()
    r = stratum("peers", d.addr())
    expect_rc(r, 0)
    check(len(r.out.splitlines()) == 2 and "why" not in r.out, "header and rule only:\n" + r.out)
    r, doc = stratum_json("peers", d.addr())
    check(doc["peers"] == [], "JSON peers: %r" % doc["peers"])


# ---------------------------------------------------------------- clients

def ntp_requests(port, n, src="127.0.0.1"):
    """n NTP client requests from src (a fresh socket each), answers awaited."""
    got = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        s.bind((src, 0))
        s.sendto(struct.pack(">BBbbIII4Q", 0x23, 0, 6, 0, 0, 0, 0, 0, 0, 0, 12345), ("127.0.0.1", port))
        try:
            if len(s.recv(100)) >= 48:
                got += 1
        except socket.timeout:
            pass
        s.close()
    return got


def t_clients_list():
    """After 5 NTP requests from 127.0.0.1 (and our own mode 6 ones) the relay lists that
    client: one entry (the list is per address), count >= 5, newest first; --json agrees;
    --sort and --limit work."""
    d = Daemon(local=2).start()
    check(ntp_requests(d.port, 5) == 5, "the server did not answer 5 requests")
    r = stratum("clients", d.addr())
    expect_rc(r, 0)
    lines = r.out.splitlines()
    check(lines[0] == " lstint avgint rstr r m v  count    score   drop   kod rport remote address",
          "header:\n" + r.out)
    rows = [ln for ln in lines[2:] if ln.strip()]
    check(len(rows) == 1, "one client (127.0.0.1):\n" + r.out)
    f = rows[0].split()
    # lstint avgint rstr r m v count score drop kod rport address
    check(f[-1] == "127.0.0.1" and int(f[6]) >= 6, "row %r: address 127.0.0.1, count >= 6" % rows[0])
    check(f[4] == "6" and f[5] == "2", "the latest packet is ours (mode 6, version 2): %r" % rows[0])
    check(f[9] == "0" and f[8] == "0", "no drops, no KoDs: %r" % rows[0])

    r, doc = stratum_json("clients", d.addr())
    expect_rc(r, 0)
    check(doc["total"] == 1 and len(doc["clients"]) == 1, "JSON: %r" % doc)
    c = doc["clients"][0]
    check(c["address"] == "127.0.0.1" and c["count"] >= 7 and c["mode"] == 6 and c["version"] == 2
          and c["kods_sent"] == 0 and c["dropped"] == 0 and c["score"] is None
          and 0 <= c["lstint"] < 5 and c["rate_flag"] == ".", "client: %r" % c)
    check(c["first"] <= c["last"] <= doc["now"], "first <= last <= now: %r" % c)

    # More clients from other loopback addresses, then sorting and limiting. (stratumd
    # rebuilds its list for mode 6 at most once a second: wait until all four show.)
    for k, n in ((2, 1), (3, 4), (4, 2)):
        check(ntp_requests(d.port, n, "127.0.8.%d" % k) == n, "127.0.8.%d not answered" % k)
    deadline = time.time() + 10
    while True:
        r, doc = stratum_json("clients", "--sort", "-count", d.addr())
        if doc["total"] == 4 or time.time() > deadline:
            break
        time.sleep(0.2)
    counts = [c["count"] for c in doc["clients"]]
    check(counts == sorted(counts, reverse=True) and len(counts) == 4, "-count: %r" % counts)
    check(doc["sort"] == "-count", "sort %r" % doc["sort"])
    r, doc = stratum_json("clients", "--sort", "addr", d.addr())
    addrs = [c["address"] for c in doc["clients"]]
    check(addrs == ["127.0.0.1", "127.0.8.2", "127.0.8.3", "127.0.8.4"], "addr: %r" % addrs)
    r, doc = stratum_json("clients", "--sort", "-addr", "--limit", "2", d.addr())
    addrs = [c["address"] for c in doc["clients"]]
    check(addrs == ["127.0.8.4", "127.0.8.3"] and doc["total"] == 4, "-addr --limit 2: %r" % addrs)
    r = stratum("clients", "--sort", "count", "-l", "1", d.addr())
    expect_rc(r, 0)
    rows = [ln for ln in r.out.splitlines()[2:] if ln.strip()]
    check(len(rows) == 1 and rows[0].split()[-1] == "127.0.8.2", "count -l 1:\n" + r.out)
    r, doc = stratum_json("clients", d.addr())
    lst = [c["lstint"] for c in doc["clients"]]
    check(lst == sorted(lst) and doc["clients"][0]["address"] == "127.0.0.1",
          "default: newest first: %r" % doc["clients"])


def t_clients_many():
    """600 clients (127.0.9.x and 127.0.10.x): more than one READ_MRU reply holds, so the
    tool resumes after the newest entries it holds until the server sends `now`; every
    address comes exactly once."""
    d = Daemon(local=2, workers=0).start()
    want = set()
    socks = []
    for k in range(600):
        src = "127.0.%d.%d" % (9 + k // 250, 1 + k % 250)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.sendto(struct.pack(">BBbbIII4Q", 0x23, 0, 6, 0, 0, 0, 0, 0, 0, 0, 777), ("127.0.0.1", d.port))
        socks.append(s)
        want.add(src)
        if len(socks) == 50:
            for s in socks:
                s.settimeout(1)
                try:
                    s.recv(100)
                except socket.timeout:
                    pass
                s.close()
            socks = []
    for s in socks:
        s.close()
    r, doc = stratum_json("clients", d.addr(), timeout=60)
    expect_rc(r, 0)
    got = [c["address"] for c in doc["clients"]]
    check(len(got) == len(set(got)), "duplicates in the list")
    missing = want - set(got)
    check(not missing, "%d clients missing, e.g. %s" % (len(missing), sorted(missing)[:5]))
    check(doc["total"] == len(got) and not doc["truncated"], "total %r" % doc["total"])
    r = stratum("clients", "--limit", "3", d.addr())
    expect_rc(r, 0)
    check(len(r.out.splitlines()) == 5, "--limit 3: 3 rows:\n" + r.out)


# ---------------------------------------------------------------- failures

def t_name_unresolvable():
    """A name that does not resolve: exit 2, a message, JSON error name_error."""
    r = stratum("status", "no-such-host.invalid")
    expect_rc(r, 2)
    check("cannot resolve" in r.err and r.out == "", "message on stderr only:\n%s" % r)
    r, doc = stratum_json("peers", "no-such-host.invalid")
    expect_rc(r, 2)
    check(doc["error"]["kind"] == "name_error" and doc["server"]["address"] is None, "%r" % doc)


def t_nothing_listening():
    """Nothing listens on the port: exit 2 at once (ICMP port unreachable) or after the
    short timeout; JSON error network_error or timeout."""
    port = free_port()
    t0 = time.time()
    r = stratum("status", "-t", "0.3", "127.0.0.1:%d" % port)
    expect_rc(r, 2)
    check(time.time() - t0 < 3, "took %.1f s" % (time.time() - t0))
    check(re.search(r"nothing listens|no answer", r.err), "message:\n%s" % r)
    for cmd in ("status", "peers", "clients"):
        r, doc = stratum_json(cmd, "-t", "0.3", "127.0.0.1:%d" % port)
        expect_rc(r, 2)
        check(doc["error"]["kind"] in ("network_error", "timeout"), "%s: %r" % (cmd, doc))


def t_noquery_silent():
    """`restrict 127.0.0.1 noquery`: the daemon drops mode 6 silently: exit 2 after the
    timeout and one retry (0.3 s each)."""
    d = Daemon(local=2, extra="restrict 127.0.0.1 noquery\n").start()
    t0 = time.time()
    r = stratum("status", "-t", "0.3", d.addr())
    took = time.time() - t0
    expect_rc(r, 2)
    check("no answer" in r.err and "sent twice" in r.err, "message:\n%s" % r)
    check(0.5 < took < 3, "took %.2f s: want two 0.3 s waits" % took)
    r, doc = stratum_json("clients", "-t", "0.3", d.addr())
    check(doc["error"]["kind"] == "timeout" and doc["exit_code"] == 2, "%r" % doc)


def t_error_reply():
    """`restrict 127.0.0.1 nomrulist`: READ_MRU gets the error reply PERMISSION: clients
    exits 3 and names it; status and peers still work."""
    d = Daemon(local=2, extra="restrict 127.0.0.1 nomrulist\n").start()
    r = stratum("clients", d.addr())
    expect_rc(r, 3)
    check("PERMISSION" in r.err and r.out == "", "message:\n%s" % r)
    r, doc = stratum_json("clients", d.addr())
    expect_rc(r, 3)
    check(doc["error"]["kind"] == "server_error" and doc["error"]["code"] == "PERMISSION", "%r" % doc)
    expect_rc(stratum("status", d.addr()), 0)
    expect_rc(stratum("peers", d.addr()), 0)


class FakeServer:
    """A mode 6 'server' on a free port that answers every request with reply(request)."""

    def __init__(self, reply):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.reply = reply
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                req, addr = self.s.recvfrom(2048)
            except socket.timeout:
                continue
            for d in self.reply(req):
                self.s.sendto(d, addr)

    def close(self):
        self.stop = True
        self.t.join()
        self.s.close()


def header(req, flags=0x80, status=0, offset=0, count=0, more=False):
    seq, assoc = struct.unpack(">HxxH", req[2:8])
    op = req[1] & 0x1f
    return struct.pack(">BBHHHHH", (2 << 3) | 6, flags | (0x20 if more else 0) | op, seq, status, assoc,
                       offset, count)


def t_malformed_reply():
    """Replies that cannot be used: exit 3 ('malformed'), never a crash or a hang.
    (a) a datagram whose length is not a multiple of 4; (b) fragments that do not fit
    together (a last fragment ending before one already received); (c) an error reply:
    UNKNOWNVAR for everything."""
    cases = {
        "ragged": lambda req: [header(req, count=3) + b"a=1"],
        "last-before-end": lambda req: [header(req, offset=8, count=4, more=True) + b"c=3,",
                                        header(req, offset=0, count=4) + b"a=1,"],
        "error": lambda req: [header(req, flags=0xc0, status=5 << 8)],
    }
    for name, fn in cases.items():
        fake = FakeServer(fn)
        try:
            r = stratum("status", "-t", "0.3", "127.0.0.1:%d" % fake.port)
            expect_rc(r, 3)
            if name == "error":
                check("UNKNOWNVAR" in r.err, "%s: message:\n%s" % (name, r))
            else:
                check("malformed" in r.err, "%s: message:\n%s" % (name, r))
            r, doc = stratum_json("peers", "-t", "0.3", "127.0.0.1:%d" % fake.port)
            expect_rc(r, 3)
            check(doc["error"]["kind"] == ("server_error" if name == "error" else "bad_response"),
                  "%s: %r" % (name, doc))
        finally:
            fake.close()


def t_fake_replies():
    """A server that sends a stale reply (another sequence number) first, then its reply in
    two fragments, last one first, and UNKNOWNVAR for any list of names (as ntpd does for
    names it does not know): status is read (derived state local clock, stratum 3, no
    uptime). A server that sends only the first fragment: exit 2, 'incomplete reply'."""
    text = b'leap=0, stratum=3, refid=GPS, peer=0, version="fake 1.0",\r\noffset=1.500000\r\n'

    def good(req):
        count = struct.unpack(">H", req[10:12])[0]
        if count > 0:
            return [header(req, flags=0xc0, status=5 << 8)]
        stale = bytearray(header(req, count=12) + b"stratum=9,\r\n")
        stale[3] ^= 1  # another sequence number
        a, b = text[:40], text[40:]
        pad = b"\0" * (-len(b) % 4)
        return [bytes(stale), header(req, offset=40, count=len(b)) + b + pad,
                header(req, offset=0, count=40, more=True) + a]

    fake = FakeServer(good)
    try:
        r = stratum("status", "-t", "0.5", "127.0.0.1:%d" % fake.port)
        expect_rc(r, 0)
        check(re.search(r"^state +local clock$", r.out, re.M) and re.search(r"^stratum +3$", r.out, re.M)
              and re.search(r"\(fake 1\.0\)$", r.out, re.M) and re.search(r"^offset +\+1\.500000 ms$", r.out, re.M)
              and "uptime" not in r.out, "status from the fake:\n%s" % r)
        r, doc = stratum_json("status", "-t", "0.5", "127.0.0.1:%d" % fake.port)
        check(doc["state_source"] == "derived" and doc["uptime"] is None and doc["offset"] == 0.0015
              and doc["refid"] == "GPS", "%r" % doc)
    finally:
        fake.close()

    fake = FakeServer(lambda req: [header(req, offset=0, count=8, more=True) + b"leap=0, "])
    try:
        t0 = time.time()
        r = stratum("status", "-t", "0.3", "127.0.0.1:%d" % fake.port)
        expect_rc(r, 2)
        check("incomplete reply" in r.err and time.time() - t0 < 3, "message:\n%s" % r)
    finally:
        fake.close()


def t_bad_arguments():
    """Usage errors: exit 1, a message on stderr, nothing on stdout (no JSON either)."""
    for args in (["status", "a", "b"], ["peers", "--sort", "count"], ["status", "--limit", "2"],
                 ["clients", "--sort", "bogus"], ["clients", "--limit", "0"],
                 ["status", "--count", "2"], ["status", "-t", "0"], ["status", "-t", "x"],
                 ["peers", "-w", "0"], ["status", "[::1"], ["status", "127.0.0.1:99999"],
                 ["clients", "--frobnicate"], ["peers", "-p"], ["status", "--json", "a", "b"]):
        r = stratum(*args)
        expect_rc(r, 1)
        check(r.out == "" and r.err.startswith("stratum "), "usage error output:\n%s" % r)
    r = stratum("clients", "--help")
    expect_rc(r, 0)
    check("--sort KEY" in r.out and "--watch S" in r.out, "help:\n%s" % r)


def t_watch():
    """--watch S --count N: N refreshes S seconds apart, each under an 'Every' header (no
    terminal: no clearing), then exit; with --json, one compact document per line."""
    d = Daemon(local=2).start()
    t0 = time.time()
    r = stratum("peers", "--watch", "0.3", "--count", "3", d.addr())
    took = time.time() - t0
    expect_rc(r, 0)
    check(r.out.count("Every 0.3s: stratum peers %s" % d.addr()) == 3, "3 headers:\n" + r.out)
    check(r.out.count("     remote") == 3 and "\033[" not in r.out, "3 tables, no escapes:\n" + r.out)
    check(0.55 < took < 10, "3 refreshes 0.3 s apart took %.2f s" % took)
    r = stratum("status", "--json", "-w", "0.2", "--count", "2", d.addr())
    expect_rc(r, 0)
    docs = [json.loads(ln) for ln in r.out.splitlines() if ln.strip()]
    check(len(docs) == 2, "two JSON lines:\n" + r.out)
    for doc in docs:
        cli.validate(doc, "status")
        check(doc["state"] == "local clock", "%r" % doc)


def t_ipv6():
    """The server by IPv6 address ([::1]:port), and -6 with a name."""
    if not cli.have_ipv6():
        raise cli.Skip("no IPv6 loopback")
    d = Daemon(local=2, v6=True).start()
    r = stratum("status", "[::1]:%d" % d.port)
    expect_rc(r, 0)
    check(re.search(r"^server +\[::1\]:%d " % d.port, r.out, re.M), "server line:\n" + r.out)
    r, doc = stratum_json("peers", "-6", "-p", str(d.port), "localhost")
    if r.rc == 2 and doc["error"]["kind"] == "name_error":
        return  # no IPv6 address for localhost here
    expect_rc(r, 0)
    check(doc["server"]["address"] == "::1", "%r" % doc["server"])


TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        print("\n".join(TESTS))
        return
    if len(sys.argv) != 4 or sys.argv[3] not in TESTS:
        print(__doc__)
        sys.exit(2)
    cli.STRATUM = os.path.abspath(sys.argv[1])
    cli.STRATUMD = os.path.abspath(sys.argv[2])
    name = sys.argv[3]
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        TESTS[name]()
    except cli.Skip as e:
        print("SKIP %s: %s" % (name, e))
        sys.exit(77)
    except AssertionError as e:
        print("FAIL %s: %s" % (name, e))
        for d in cli._daemons:
            log = d.log()
            if log:
                print("----- stratumd port %d log (last 15 lines) -----" % d.port)
                print("\n".join(log.splitlines()[-15:]))
        sys.exit(1)
    finally:
        cli.stop_all()
        for d in cli._daemons:
            shutil.rmtree(d.dir, ignore_errors=True)
    print("ok %s" % name)


if __name__ == "__main__":
    main()
