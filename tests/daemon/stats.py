#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""stratumd's statistics files (statsdir, statistics, filegen) as existing tools read
them: NTPsec's own reader (ntp.statfiles, what ntpviz uses) must parse every line, and
the values must be the ones the daemon reports over mode 6 (read with NTPsec's
ntp.packet.ControlSession). Daemons run on loopback with clock sim or none, CAP_SYS_TIME
removed from the bounding set, and are stopped by PID (serve.py's Daemon).

Usage: stats.py STRATUMD TEST_NAME   (or 'list')
"""
import glob
import os
import re
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve  # noqa: E402
from serve import Daemon, base_conf, check, fail, free_port, wait_log  # noqa: E402

DAY = 86400


def statfiles():
    try:
        import ntp.statfiles
        import ntp.packet  # noqa: F401
    except ImportError:
        print("SKIP: NTPsec's python3-ntp (ntp.statfiles) is not installed")
        sys.exit(77)
    return ntp.statfiles


def read_stats(d, start, end):
    """The files of statsdir d as ntpviz reads them (lines between start and end)."""
    return statfiles().NTPStats(d, sitename="test", starttime=int(start), endtime=int(end))


def lines(path_glob):
    out = []
    for p in sorted(glob.glob(path_glob)):
        with open(p) as f:
            out += [l.rstrip("\n") for l in f]
    return out


def wait_lines(path_glob, n, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(lines(path_glob)) >= n:
            return True
        time.sleep(0.1)
    return False


def control(port):
    """A mode 6 session to 127.0.0.1:port with NTPsec's client (its openhost() knows only
    port 123)."""
    import ntp.packet
    s = ntp.packet.ControlSession()
    s.logfp = None
    s.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sock.connect(("127.0.0.1", port))
    s.hostname, s.isnum, s.port = "127.0.0.1", True, port
    return s


def mjd_time(unix):
    return int(unix // DAY) + 40587, unix % DAY


# ---------------------------------------------------------------- tests

def t_files():
    """A relay on a simulated clock (20 ppm fast) syncing from another stratumd writes
    loopstats after each clock update and peerstats after each sample, in day files with
    a link to today's; NTPsec's reader parses them, and the last lines hold what mode 6
    reports at the same moment. sysstats is hourly: none yet."""
    statfiles()
    up = free_port()
    a = Daemon(base_conf(up, local=1)).start()
    d = tempfile.mkdtemp(prefix="stratum-stats-")
    try:
        port = free_port()
        b = Daemon("listen 127.0.0.1 port %d\nclock sim freq 20\n"
                   "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
                   "statsdir %s\nstatistics loopstats peerstats sysstats\n"
                   % (port, up, d)).start()
        try:
            check(wait_log(b, r"IO: statistics loopstats peerstats sysstats in ") is not None,
                  "no statistics line at start:\n" + b.log())
            check(wait_lines(os.path.join(d, "loopstats.*"), 5), "fewer than 5 loopstats "
                  "lines:\n%s\n%s" % (os.listdir(d), b.log()))
            check(wait_lines(os.path.join(d, "peerstats.*"), 5), "fewer than 5 peerstats lines")

            # The values of the last lines are what mode 6 says, when no update came
            # between reading the file and asking (retried until one such moment).
            s = control(port)
            for attempt in range(40):
                v1 = s.readvar(0)
                peers = s.readstat(0)
                pv1 = s.readvar(peers[0].associd)
                loop = lines(os.path.join(d, "loopstats.*"))[-1].split()
                peer = lines(os.path.join(d, "peerstats.*"))[-1].split()
                pv = s.readvar(peers[0].associd)
                peers2 = s.readstat(0)
                v2 = s.readvar(0)
                if (v1["offset"] == v2["offset"] and v1["frequency"] == v2["frequency"] and
                        pv1["rec"] == pv["rec"] and peers[0].status == peers2[0].status):
                    break
                time.sleep(0.05)
            else:
                fail("the daemon never held still for a comparison")
            check(len(loop) == 7 and len(peer) == 8, "fields: %s / %s" % (loop, peer))
            check(abs(float(loop[2]) * 1000 - v2["offset"]) < 2e-6,
                  "loopstats offset %s s, mode 6 offset %s ms" % (loop[2], v2["offset"]))
            check(abs(float(loop[3]) - v2["frequency"]) < 0.0006,
                  "loopstats frequency %s ppm, mode 6 %s" % (loop[3], v2["frequency"]))
            check(abs(float(loop[4]) * 1000 - v2["clk_jitter"]) < 2e-6,
                  "loopstats jitter %s s, mode 6 clk_jitter %s ms" % (loop[4], v2["clk_jitter"]))
            check(abs(float(loop[5]) - v2["clk_wander"]) < 2e-6,
                  "loopstats wander %s ppm, mode 6 clk_wander %s" % (loop[5], v2["clk_wander"]))
            check(int(loop[6]) == v2["tc"], "loopstats tc %s, mode 6 %s" % (loop[6], v2["tc"]))
            check(peer[2] == "127.0.0.1" and peer[2] == pv["srcadr"],
                  "peerstats address %s, srcadr %s" % (peer[2], pv["srcadr"]))
            check(int(peer[3], 16) == peers[0].status,
                  "peerstats status %s, READSTAT %04x" % (peer[3], peers[0].status))
            check(abs(float(peer[4]) * 1000 - pv["offset"]) < 2e-6 and
                  abs(float(peer[5]) * 1000 - pv["delay"]) < 2e-6,
                  "peerstats offset/delay %s %s s, mode 6 %s %s ms"
                  % (peer[4], peer[5], pv["offset"], pv["delay"]))
            check(abs(float(peer[7]) * 1000 - pv["jitter"]) < 2e-6,
                  "peerstats jitter %s s, mode 6 %s ms" % (peer[7], pv["jitter"]))
            s.close()
        finally:
            b.stop()

        # NTPsec's reader takes every line; the times are today's (the clock is right).
        now = time.time()
        st = read_stats(d, now - 2 * DAY, now + DAY)
        n_loop = len(lines(os.path.join(d, "loopstats.*")))
        n_peer = len(lines(os.path.join(d, "peerstats.*")))
        check(len(st.loopstats) == n_loop and len(st.peerstats) == n_peer,
              "ntp.statfiles read %d/%d loopstats and %d/%d peerstats lines"
              % (len(st.loopstats), n_loop, len(st.peerstats), n_peer))
        check(list(st.peersplit().keys()) == ["127.0.0.1"], "peers %s" % st.peersplit().keys())
        for row in st.loopstats + st.peerstats:
            check(abs(float(row[1]) - now) < 120, "line time %s, now %f" % (row[1], now))
        for row in st.loopstats:
            float(row[2]), float(row[3]), float(row[4]), float(row[5]), int(row[6])
        # A frequency was learned: about -20 ppm against the simulated +20.
        check(-40 < float(st.loopstats[-1][3]) < 0, "frequency %s" % st.loopstats[-1][3])
        # Day files named by the UTC date, each line's MJD that day; the link names
        # today's file.
        for kind in ("loopstats", "peerstats"):
            files = sorted(glob.glob(os.path.join(d, kind + ".*")))
            check(all(re.fullmatch(r".*/%s\.\d{8}" % kind, p) for p in files), files)
            for p in files:
                day = time.strptime(p[-8:], "%Y%m%d")
                mjd = mjd_time(time.mktime(day) - time.timezone)[0]
                check(all(int(l.split()[0]) == mjd for l in lines(p)), "MJD in %s" % p)
            check(os.readlink(os.path.join(d, kind)) == os.path.basename(files[-1]),
                  "%s link -> %s" % (kind, os.readlink(os.path.join(d, kind))))
            for p in files:
                check(os.stat(p).st_mode & 0o777 == 0o644, "%s mode %o" % (p, os.stat(p).st_mode))
        check(glob.glob(os.path.join(d, "sysstats*")) == [], "sysstats before an hour")
        check(not glob.glob(os.path.join(d, ".*")), "temporary files left: %s"
              % os.listdir(d))
    finally:
        a.stop()
        shutil.rmtree(d)


def t_daemon_clock():
    """Lines carry the daemon's clock, not the system's: a source marked noselect never
    corrects a simulated clock started on 2001-01-01, so its samples are written on that
    day (file peerstats.20010101, MJD 51910); with type none and nolink, one plain file."""
    statfiles()
    up = free_port()
    a = Daemon(base_conf(up, local=1)).start()
    d = tempfile.mkdtemp(prefix="stratum-stats-")
    try:
        start = 978307200  # 2001-01-01T00:00:00Z
        port = free_port()
        b = Daemon("listen 127.0.0.1 port %d\nclock sim start %d\n"
                   "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1 noselect\n"
                   "statsdir %s\nstatistics peerstats loopstats\n"
                   "filegen loopstats type none nolink\n" % (port, start, up, d)).start()
        try:
            check(wait_lines(os.path.join(d, "peerstats.*"), 3), "fewer than 3 peerstats "
                  "lines:\n%s\n%s" % (os.listdir(d), b.log()))
        finally:
            b.stop()
        check(sorted(os.listdir(d)) == ["peerstats", "peerstats.20010101"],
              "files %s" % os.listdir(d))
        rows = [l.split() for l in lines(os.path.join(d, "peerstats.20010101"))]
        check(all(r[0] == "51910" and float(r[1]) < 600 for r in rows), "rows %s" % rows)
        # The offset measured is that of the simulated clock: 2001 against today.
        check(all(float(r[4]) > 7e8 for r in rows), "offsets %s" % [r[4] for r in rows])
        st = read_stats(d, start - DAY, time.time() + DAY)
        check(len(st.peerstats) == len(rows), "ntp.statfiles read %d of %d lines"
              % (len(st.peerstats), len(rows)))
        check(abs(st.peerstats[0][0] / 1000.0 - start) < 600, "time %s" % st.peerstats[0][1])
    finally:
        a.stop()
        shutil.rmtree(d)


def t_dir_appears():
    """A statsdir that does not exist yet is a warning, not an error: the daemon serves,
    says once that it cannot open the file, and writes as soon as the directory is
    there. A symlink planted under today's data file's name is not followed."""
    up = free_port()
    a = Daemon(base_conf(up, local=1)).start()
    w = tempfile.mkdtemp(prefix="stratum-stats-")
    d = os.path.join(w, "later")
    try:
        port = free_port()
        b = Daemon("listen 127.0.0.1 port %d\nclock sim\n"
                   "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n"
                   "statsdir %s\nstatistics loopstats peerstats\n" % (port, up, d)).start()
        try:
            check(wait_log(b, r"warning IO: statsdir %s: No such file or directory" % d)
                  is not None, "no warning for the missing statsdir:\n" + b.log())
            check(serve.wait_synced(port) is not None, "not synchronized:\n" + b.log())
            time.sleep(3)
            check(b.log().count("statistics file %s/loopstats." % d) == 1,
                  "the open failure is not logged exactly once:\n" + b.log())
            os.mkdir(d)
            victim = os.path.join(w, "victim")
            with open(victim, "w") as f:
                f.write("precious\n")
            today = time.strftime("%Y%m%d", time.gmtime())
            os.symlink(victim, os.path.join(d, "peerstats." + today))
            check(wait_lines(os.path.join(d, "loopstats.*"), 2), "no loopstats lines once "
                  "the directory exists:\n" + b.log())
            check(wait_log(b, r"statistics file %s/peerstats\.\d+: a symbolic link" % d)
                  is not None, "planted symlink not refused:\n" + b.log())
            with open(victim) as f:
                check(f.read() == "precious\n", "wrote through a symlink")
            check(b.proc.poll() is None, "the daemon stopped")
        finally:
            b.stop()
    finally:
        a.stop()
        shutil.rmtree(w)


if __name__ == "__main__":
    serve.run(globals(), __doc__)
