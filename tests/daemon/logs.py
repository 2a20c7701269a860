#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""stratumd's logging: syslog datagrams (to a private AF_UNIX socket: this machine has no
/dev/log) read by a Python listener and by rsyslog, the level threshold and logconfig's
categories, and a bounded log under a flood of what remote parties can send. Daemons run
on loopback with clock sim or none, CAP_SYS_TIME removed from the bounding set, and are
stopped by PID; so is rsyslogd.

Usage: logs.py STRATUMD TEST_NAME   (or 'list')
"""
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve  # noqa: E402
from serve import Daemon, check, decode, exchange, fail, free_port, req  # noqa: E402

# <PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG (RFC 3164 as the C library sends it locally)
DGRAM = re.compile(r"<(\d{1,3})>([A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) ([^\[ ]+)\[(\d+)\]: (.*)",
                   re.S)


class Listener:
    """A syslog daemon stand-in: a datagram socket bound at a private path."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.msgs = []

    def collect(self, timeout=0.2):
        self.sock.settimeout(timeout)
        try:
            while True:
                self.msgs.append(self.sock.recv(65536).decode(errors="replace"))
                self.sock.settimeout(0.05)
        except socket.timeout:
            pass
        return self.msgs

    def wait_for(self, pattern, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.collect():
                if re.search(pattern, m):
                    return m
        return None

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def start_quiet(conf_text, dirpath):
    """Starts stratumd (-d) whose messages go to syslog, not to its stderr; returns the
    process (setpriv execs it: same PID) and the stderr file."""
    conf = os.path.join(dirpath, "stratum.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    err = open(os.path.join(dirpath, "stderr.txt"), "wb")
    p = subprocess.Popen(["setpriv", "--bounding-set=-sys_time", serve.STRATUMD, "-c", conf,
                          "-d"], stdout=err, stderr=err)
    err.close()
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            fail("stratumd did not exit on SIGTERM")


def parse(m):
    g = DGRAM.fullmatch(m)
    check(g is not None, "not an RFC 3164 datagram: %r" % m)
    pri = int(g.group(1))
    return {"facility": pri >> 3, "severity": pri & 7, "ident": g.group(3),
            "pid": int(g.group(4)), "msg": g.group(5)}


# ---------------------------------------------------------------- tests

def t_syslog_listener():
    """`syslog socket PATH facility local3`: every start-up line arrives as one datagram
    with PRI local3 and the level's severity, tagged stratumd[PID]; nothing goes to
    stderr. Then `loglevel warning` and `logconfig =syncall` each drop what they should."""
    w = tempfile.mkdtemp(prefix="stratum-syslog-")
    try:
        path = os.path.join(w, "log.sock")
        lst = Listener(path)
        port = free_port()
        base = ("listen 127.0.0.1 port %d\nclock sim\nlocal stratum 3\nsyslog socket %s "
                "facility local3\nstatsdir %s/none\nstatistics loopstats\n" % (port, path, w))
        p = start_quiet(base, w)
        try:
            m = lst.wait_for(r"PROTO: ready")
            check(m is not None, "no ready line: %s" % lst.msgs)
            got = [parse(x) for x in lst.collect()]
            for g in got:
                check(g["facility"] == 19 and g["ident"] == "stratumd" and g["pid"] == p.pid,
                      "datagram %s (pid %d)" % (g, p.pid))
            sev = [(g["severity"], g["msg"]) for g in got]
            ready = [g for g in got if g["msg"].startswith("PROTO: ready")]
            check(len(ready) == 1 and ready[0]["severity"] == 5, "ready: %s" % ready)
            warn = [g for g in got if g["msg"].startswith("IO: statsdir ")]
            check(len(warn) == 1 and warn[0]["severity"] == 4, "warning: %s" % warn)
            check(any(g["msg"].startswith("IO: listening on 127.0.0.1 port %d" % port)
                      for g in got), "no listening line: %s" % sev)
            check(exchange(port, req()) is not None, "no reply")
        finally:
            stop(p)
        got = [parse(x) for x in lst.collect()]
        check(any(g["msg"] == "PROTO: exit 0" for g in got), "no exit line: %s" % got)
        with open(os.path.join(w, "stderr.txt")) as f:
            check(f.read() == "", "stderr not empty")

        for extra, want, unwanted in (("loglevel warning\n", r"IO: statsdir ", r"notice|CLOCK"),
                                      ("logconfig =syncall\n", r"CLOCK: clock sim",
                                       r"PROTO: ready|IO: listening")):
            lst.msgs = []
            p = start_quiet(base + extra, w)
            try:
                check(lst.wait_for(want) is not None, "%s: no %s: %s" % (extra, want, lst.msgs))
                check(serve.wait_synced(port, timeout=5, stratum=3) is not None, "not serving")
                got = [parse(x) for x in lst.collect(0.5)]
                for g in got:
                    check(not re.search(unwanted, g["msg"]) or g["severity"] <= 4,
                          "%s: %s arrived" % (extra.strip(), g))
                check(any(g["severity"] == 4 for g in got), "%s: warning dropped" % extra)
            finally:
                stop(p)
        lst.close()
    finally:
        shutil.rmtree(w)


def t_syslog_rsyslog():
    """rsyslog (imuxsock on a private socket, omfile to a private file) takes the
    daemon's datagrams: facility daemon, the right severities, tag stratumd[PID]:."""
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.access(rsyslogd, os.X_OK):
        print("SKIP: rsyslogd is not installed")
        sys.exit(77)
    w = tempfile.mkdtemp(prefix="stratum-rsyslog-")
    rs = None
    try:
        sock = os.path.join(w, "log.sock")
        out = os.path.join(w, "messages.log")
        with open(os.path.join(w, "rsyslog.conf"), "w") as f:
            f.write('global(workDirectory="%s")\n'
                    'module(load="imuxsock" SysSock.Use="off")\n'
                    'input(type="imuxsock" Socket="%s" CreatePath="on")\n'
                    'template(name="t" type="string" string="fac=%%syslogfacility-text%% '
                    'sev=%%syslogseverity-text%% tag=%%syslogtag%% prog=%%programname%% '
                    'pid=%%procid%% msg=%%msg%%\\n")\n'
                    '*.* action(type="omfile" file="%s" template="t")\n' % (w, sock, out))
        rs = subprocess.Popen([rsyslogd, "-n", "-f", os.path.join(w, "rsyslog.conf"),
                               "-i", os.path.join(w, "rsyslogd.pid")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(sock) and time.time() < deadline:
            if rs.poll() is not None:
                fail("rsyslogd exited %d" % rs.returncode)
            time.sleep(0.05)
        check(os.path.exists(sock), "rsyslogd made no socket")
        port = free_port()
        p = start_quiet("listen 127.0.0.1 port %d\nclock none\nlocal stratum 3\n"
                        "syslog socket %s\n" % (port, sock), w)
        text = ""
        try:
            deadline = time.time() + 10
            while time.time() < deadline and "PROTO: ready" not in text:
                time.sleep(0.1)
                text = open(out).read() if os.path.exists(out) else ""
            check("PROTO: ready" in text, "rsyslog wrote no ready line:\n" + text)
            pid = p.pid
        finally:
            stop(p)
        deadline = time.time() + 5
        while time.time() < deadline and "PROTO: exit 0" not in text:
            time.sleep(0.1)
            text = open(out).read()
        lines = [l for l in text.splitlines() if "prog=stratumd" in l]
        check(len(lines) >= 4, "lines:\n" + text)
        for l in lines:
            check(l.startswith("fac=daemon sev=") and " tag=stratumd[%d]: " % pid in l and
                  " pid=%d " % pid in l, "line: %s" % l)
        # (rsyslog keeps the space after the tag's colon in %msg%.)
        ready = [l for l in lines if re.search(r" msg= ?PROTO: ready", l)]
        check(len(ready) == 1 and ready[0].startswith("fac=daemon sev=notice "), ready)
        check(any(l.startswith("fac=daemon sev=notice ") and re.search(r" msg= ?PROTO: exit 0$", l)
                  for l in lines), "no exit line:\n" + text)
    finally:
        if rs is not None and rs.poll() is None:
            rs.terminate()
            try:
                rs.wait(10)
            except subprocess.TimeoutExpired:
                rs.kill()
                rs.wait()
        shutil.rmtree(w)


def t_remote_flood_bounded():
    """What remote parties can send does not grow the log beyond a few lines: 2000
    hostile datagrams (serve.py's HOSTILE kinds and random bytes) to the server port, and
    2000 forged or garbage replies plus a kiss-o'-death to every request from its
    "upstream" (a Python socket) to its request sockets. The daemon keeps answering."""
    for workers in (0, 1):
        up_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up_sock.bind(("127.0.0.1", 0))
        up = up_sock.getsockname()[1]
        port = free_port()
        d = Daemon("listen 127.0.0.1 port %d\nclock none\nlocal stratum 3\nworkers %d\n"
                   "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
                   % (port, workers, up)).start()
        try:
            up_sock.settimeout(5)
            data, frm = up_sock.recvfrom(2048)  # the first request
            before = len(d.log().splitlines())
            rnd = random.Random(7)
            sent = 0
            deadline = time.time() + 20
            while sent < 2000 and time.time() < deadline:
                # To the server port: each hostile kind in turn, and random bytes.
                for i in range(20):
                    name, make, _ = serve.HOSTILE[(sent + i) % len(serve.HOSTILE)]
                    pkt = make() if i % 4 else bytes(rnd.getrandbits(8)
                                                     for _ in range(rnd.randrange(0, 200)))
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.sendto(pkt, ("127.0.0.1", port))
                    s.close()
                # To the daemon's request socket, from its upstream: garbage, replies with
                # a wrong origin, and kiss-o'-death packets with a wrong origin.
                for i in range(20):
                    kind = i % 3
                    if kind == 0:
                        pkt = bytes(rnd.getrandbits(8) for _ in range(48))
                    else:
                        refid = b"RATE" if kind == 1 else b"DENY"
                        pkt = struct.pack(">BBbbII4sQQQQ", 0xE4 if kind == 1 else 0x24,
                                          0 if kind == 1 else 1, 0, -20, 0, 0, refid, 0,
                                          rnd.getrandbits(64), 0, rnd.getrandbits(64))
                    try:
                        up_sock.sendto(pkt, frm)
                    except OSError:
                        pass
                sent += 20
                # Answer the requests that came meanwhile with a real kiss-o'-death RATE.
                up_sock.setblocking(False)
                try:
                    while True:
                        q, frm = up_sock.recvfrom(2048)
                        xmt = struct.unpack(">Q", q[40:48])[0]
                        kod = struct.pack(">BBbbII4sQQQQ", 0xE4, 0, 0, -20, 0, 0, b"RATE", 0,
                                          xmt, 0, 0)
                        up_sock.sendto(kod, frm)
                except (BlockingIOError, OSError):
                    pass
                up_sock.setblocking(True)
                time.sleep(0.01)
            check(sent == 2000, "flood not sent")
            time.sleep(1.0)
            r = exchange(port, req(), timeout=2)
            check(r is not None and decode(r)["stratum"] == 3, "no reply after the flood")
            c = d.counters()
            check(c["ss_received"] >= 1500, "the flood did not arrive: %s" % c)
            grown = len(d.log().splitlines()) - before
            print("workers %d: %d datagrams to the server, %d to the request sockets, %d "
                  "received; the log grew by %d lines" % (workers, sent, sent, c["ss_received"],
                                                         grown))
            # counters (SIGUSR1): 3 lines; kiss-o'-death notices: at most 10 then 1 a
            # minute; nothing per datagram.
            check(grown <= 20, "workers %d: the log grew by %d lines:\n%s"
                  % (workers, grown, "\n".join(d.log().splitlines()[before:])))
        finally:
            d.stop()
            up_sock.close()


if __name__ == "__main__":
    serve.run(globals(), __doc__)
