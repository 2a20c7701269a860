#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The administration socket of a running stratumd (`control socket PATH`) and
`stratum ctl`: sources listed, added and removed at run time, step now, the drift file,
reload (request and SIGHUP: source lines, restrict, what needs a restart, a broken file
refused), the socket's mode and group, who may use it, idle connections that cannot
block it, a socket another daemon holds. Daemons are started as tests/daemon/serve.py
starts them (its helpers are imported): clock none or sim, CAP_SYS_TIME removed from the
bounding set, free ports on loopback, stopped by PID.

Usage: admin.py STRATUMD TEST_NAME   (or 'list')
"""
import grp
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import serve  # noqa: E402
from serve import Daemon, base_conf, check, exchange, fail, free_port, req, wait_synced  # noqa: E402


def stratum_tool():
    return os.path.join(os.path.dirname(serve.STRATUMD), "stratum")


def ctl(sock, *args, user=None):
    """Runs `stratum ctl --socket SOCK ARGS`; returns (exit status, stdout, stderr)."""
    cmd = [stratum_tool(), "ctl", "--socket", sock] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def upstream():
    port = free_port()
    return port, Daemon(base_conf(port, local=1, extra="control socket none\n")).start()


def relay_conf(port, up, sock, extra=""):
    return ("listen 127.0.0.1 port %d\nclock sim\ncontrol socket %s\n"
            "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\n%s" % (port, sock, up, extra))


def sock_path():
    return os.path.join(tempfile.mkdtemp(prefix="stratum-admin-"), "sub", "stratumd.sock")


def t_requests():
    up, u = upstream()
    sock = sock_path()
    port = free_port()
    d = Daemon(relay_conf(port, up, sock)).start()
    try:
        check(wait_synced(port) is not None, "relay not synchronized:\n" + d.log())
        st = os.stat(sock)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
              "socket mode %o" % stat.S_IMODE(st.st_mode))
        rc, out, err = ctl(sock, "sources")
        check(rc == 0 and "1 source line" in out and "sys_peer" in out, "sources: %d %r %r"
              % (rc, out, err))
        rc, out, err = ctl(sock, "add", "server", "127.0.0.2", "port", str(up), "minpoll", "0")
        check(rc == 0 and "added 127.0.0.2" in out, "add: %d %r %r" % (rc, out, err))
        rc, out, err = ctl(sock, "add", "server", "127.0.0.2", "port", str(up), "minpoll", "0")
        check(rc == 3 and "already a source" in err, "add twice: %d %r" % (rc, err))
        rc, out, err = ctl(sock, "add", "server", "127.0.0.9", "frobnicate")
        check(rc == 3 and "frobnicate" in err, "add with a bad option: %d %r" % (rc, err))
        rc, out, _ = ctl(sock, "sources")
        check("2 source lines" in out and " 127.0.0.2 " in out, "sources after add: %r" % out)
        rc, out, err = ctl(sock, "remove", "127.0.0.2")
        check(rc == 0 and "removed 127.0.0.2" in out, "remove: %d %r %r" % (rc, out, err))
        rc, out, _ = ctl(sock, "sources")
        check("1 source line" in out and "127.0.0.2" not in out, "sources after remove: %r" % out)
        rc, out, err = ctl(sock, "remove", "192.0.2.77")
        check(rc == 3 and "no source 192.0.2.77" in err, "remove unknown: %d %r" % (rc, err))
        rc, out, err = ctl(sock, "step")
        check(rc == 0 and "stepped by" in out, "step: %d %r %r" % (rc, out, err))
        check("from stratum ctl step" in d.log(), "step not logged:\n" + d.log())
        rc, out, err = ctl(sock, "writedrift")
        check(rc == 3 and "no driftfile configured" in err, "writedrift: %d %r" % (rc, err))
        rc, out, err = ctl(sock, "frobnicate")
        check(rc == 1 and "not a request" in err, "unknown request: %d %r" % (rc, err))
        rc, out, err = ctl(sock, "step", "now")
        check(rc == 1, "step with an argument: %d %r" % (rc, err))
        # A raw client: an unknown word is answered with an error line.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"frobnicate\n")
        data = s.recv(4096)
        s.close()
        check(data.startswith(b"error unknown request"), "raw: %r" % data)
        check(exchange(port, req()) is not None, "not serving after the requests")
        rc, out, err = ctl(os.path.join(os.path.dirname(sock), "nothing.sock"), "sources")
        check(rc == 2 and "no stratumd answers" in err, "no daemon: %d %r" % (rc, err))
    finally:
        d.stop()
        u.stop()
    check(not os.path.exists(sock), "the socket file was left behind at exit")


def t_drift():
    up, u = upstream()
    sock = sock_path()
    drift = os.path.join(os.path.dirname(os.path.dirname(sock)), "stratum.drift")
    port = free_port()
    d = Daemon(relay_conf(port, up, sock, "driftfile %s\n" % drift)).start()
    try:
        check(wait_synced(port) is not None, "relay not synchronized:\n" + d.log())
        deadline = time.time() + 20
        while True:
            rc, out, err = ctl(sock, "writedrift")
            if rc == 0 or time.time() > deadline:
                break
            check("fewer than 4 updates" in err, "writedrift: %d %r" % (rc, err))
            time.sleep(0.5)
        check(rc == 0 and "ppm to" in out, "writedrift: %d %r %r" % (rc, out, err))
        check(os.path.exists(drift), "no drift file after writedrift")
    finally:
        d.stop()
        u.stop()


def t_reload():
    for workers in (1, 0):
        up, u = upstream()
        sock = sock_path()
        port = free_port()
        d = Daemon(relay_conf(port, up, sock, "workers %d\n" % workers)).start()
        try:
            check(wait_synced(port) is not None, "relay not synchronized:\n" + d.log())
            base = relay_conf(port, up, sock, "workers %d\n" % workers)
            # A source line more, and this host may no longer ask the time.
            with open(d.conf_path, "w") as f:
                f.write(base + "server 127.0.0.3 port %d minpoll 0\nrestrict 127.0.0.1 noserve\n"
                        % up)
            rc, out, err = ctl(sock, "reload")
            check(rc == 0 and "1 kept, 1 added, 0 removed" in out and
                  "restrict/discard/monitor: updated" in out, "reload: %d %r %r" % (rc, out, err))
            check(exchange(port, req(), timeout=0.5) is None,
                  "still served after restrict noserve (workers %d)" % workers)
            rc, out, _ = ctl(sock, "sources")
            check("2 source lines" in out and "127.0.0.3" in out, "sources: %r" % out)
            # SIGHUP: back to the first file; the extra line goes, service is back.
            with open(d.conf_path, "w") as f:
                f.write(base)
            before = d.log().count("CONF: reloaded")
            d.proc.send_signal(serve.signal.SIGHUP)
            deadline = time.time() + 5
            while d.log().count("CONF: reloaded") == before and time.time() < deadline:
                time.sleep(0.05)
            check("0 added, 1 removed" in d.log().splitlines()[-1] or
                  "0 added, 1 removed" in d.log(), "SIGHUP reload:\n" + d.log())
            check(exchange(port, req(), timeout=1.0) is not None,
                  "not served again after the restrict line went (workers %d)" % workers)
            check(wait_synced(port) is not None, "lost synchronization over reloads")
            # What needs a restart is named, and not applied.
            with open(d.conf_path, "w") as f:
                f.write(base.replace("workers %d" % workers, "workers 2"))
            rc, out, err = ctl(sock, "reload")
            check(rc == 0 and "not applied until a restart: workers" in out,
                  "reload of workers: %d %r" % (rc, out))
            # A broken file is refused; the daemon goes on as it was.
            with open(d.conf_path, "w") as f:
                f.write(base + "frobnicate 1\n")
            rc, out, err = ctl(sock, "reload")
            check(rc == 3 and "frobnicate" in err and "unknown directive" in err,
                  "broken reload: %d %r" % (rc, err))
            check(exchange(port, req()) is not None, "not serving after a refused reload")
        finally:
            d.stop()
            u.stop()


def t_permissions():
    up, u = upstream()
    sock = sock_path()
    port = free_port()
    d = Daemon(relay_conf(port, up, sock)).start()
    try:
        rc, out, err = ctl(sock, "sources", user=65534)
        check(rc == 4 and "not permitted" in err, "as nobody: %d %r" % (rc, err))
    finally:
        d.stop()
    # With a group: 0660 and that group.
    gid = grp.getgrnam("daemon").gr_gid if "daemon" in [g.gr_name for g in grp.getgrall()] \
        else 1
    sock = sock_path()
    d = Daemon(relay_conf(free_port(), up, sock.replace(" ", ""), "") .replace(
        "control socket %s\n" % sock, "control socket %s group %d\n" % (sock, gid))).start()
    try:
        st = os.stat(sock)
        check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid,
              "mode %o gid %d, want 660 and %d" % (stat.S_IMODE(st.st_mode), st.st_gid, gid))
        rc, out, err = ctl(sock, "sources", user=65534)
        check(rc == 4, "nobody outside the group: %d %r" % (rc, err))
    finally:
        d.stop()
        u.stop()


def t_idle_clients():
    """Connections that never send a line fill every slot: the next request still gets
    its answer once they time out, and NTP service goes on meanwhile."""
    up, u = upstream()
    sock = sock_path()
    port = free_port()
    d = Daemon(relay_conf(port, up, sock)).start()
    idle = []
    try:
        for _ in range(12):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            idle.append(s)
        check(exchange(port, req()) is not None, "NTP not served with idle admin clients")
        t0 = time.time()
        rc, out, err = ctl(sock, "sources")
        took = time.time() - t0
        check(rc == 0 and "source line" in out, "with idle clients: %d %r %r" % (rc, out, err))
        check(took < 20, "took %.1f s" % took)
        # A request line that never ends is cut off.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sock)
        s.sendall(b"x" * 5000)
        data = s.recv(4096)
        s.close()
        check(data.startswith(b"error request line too long"), "long line: %r" % data)
    finally:
        for s in idle:
            s.close()
        d.stop()
        u.stop()


def t_socket_in_use():
    up, u = upstream()
    sock = sock_path()
    a = Daemon(relay_conf(free_port(), up, sock)).start()
    try:
        b = Daemon(relay_conf(free_port(), up, sock), expect_fail=True)
        b.start()
        check(b.wait_exit() == 1 and "another daemon answers on it" in b.log(),
              "second daemon on the socket:\n" + b.log())
    finally:
        a.stop()
    # A stale socket (no one behind it) is replaced; a file that is not a socket is not.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()
    c = Daemon(relay_conf(free_port(), up, sock)).start()
    try:
        rc, out, _ = ctl(sock, "sources")
        check(rc == 0, "the stale socket was not replaced")
    finally:
        c.stop()
    with open(sock, "w") as f:
        f.write("not a socket")
    e = Daemon(relay_conf(free_port(), up, sock), expect_fail=True)
    e.start()
    check(e.wait_exit() == 1 and "is not a socket" in e.log(), "a plain file:\n" + e.log())
    os.unlink(sock)
    u.stop()


if __name__ == "__main__":
    serve.run(globals(), __doc__, needs_root=True)
