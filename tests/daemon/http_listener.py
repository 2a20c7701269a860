#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The HTTP listener of a running stratumd (`http ADDRESS:PORT`): /metrics checked by
`promtool check metrics` and against the daemon's own state, /status.json validated against
docs/schema/stratumd-status.schema.json, 404/405/HEAD, binding exactly the configured
address, nothing listening without an `http` line, a second daemon on the same port
refused. Daemons are started as tests/daemon/serve.py starts them (its helpers are
imported): clock none or sim, CAP_SYS_TIME removed from the bounding set, free ports on
loopback, stopped by PID.

(Not named http.py: that would shadow Python's own http package for this script.)

Usage: http_listener.py STRATUMD TEST_NAME   (or 'list')
"""
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import serve  # noqa: E402  (tests/daemon/serve.py: Daemon, exchange, req, ...)
from serve import Daemon, base_conf, check, exchange, fail, req, wait_synced  # noqa: E402

SRCDIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SCHEMA = os.path.join(SRCDIR, "docs", "schema", "stratumd-status.schema.json")
PROM_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def free_tcp_port(family=socket.AF_INET, addr="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_udp_port():
    return serve.free_port()


def get(port, path, method="GET", host="127.0.0.1", body=None, conn=None):
    """One request; returns (status, headers dict with lower-case names, body bytes)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            conn.close()


def parse_metrics(text):
    """Prometheus text to {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        check(m is not None, "not a sample line: %r" % line)
        labels = {}
        if m.group(2):
            for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)):
                labels[lm.group(1)] = lm.group(2)
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def value(metrics, name, **labels):
    """The value of the one sample of name whose labels include the given ones."""
    hits = [v for (n, ls), v in metrics.items() if n == name and set(labels.items()) <= ls]
    check(len(hits) == 1, "%s%s: %d samples" % (name, labels, len(hits)))
    return hits[0]


def maybe(metrics, name, **labels):
    """Like value(), but None unless exactly one sample matches (for wait conditions)."""
    hits = [v for (n, ls), v in metrics.items() if n == name and set(labels.items()) <= ls]
    return hits[0] if len(hits) == 1 else None


def labels_of(metrics, name):
    return [dict(ls) for (n, ls) in metrics if n == name]


def promtool_check(text):
    """`promtool check metrics` must accept text. Without promtool: a failure in CI
    (CI=true), else the test is skipped (exit 77)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            fail("promtool is missing (package prometheus; scripts/install-deps.sh installs it)")
        print("SKIP: promtool not installed (package prometheus)")
        sys.exit(77)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, "promtool check metrics: exit %d\n%s%s\n--- metrics:\n%s"
          % (p.returncode, p.stdout, p.stderr, text))


def validate_status(doc):
    try:
        import jsonschema
    except ImportError:
        fail("python3-jsonschema is missing (scripts/install-deps.sh installs it)")
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc),
                    key=lambda e: list(e.path))
    check(not errors, "/status.json does not match %s:\n%s\n%s" % (
        os.path.basename(SCHEMA),
        "\n".join("  at /%s: %s" % ("/".join(str(p) for p in e.path), e.message)
                  for e in errors[:10]),
        json.dumps(doc, indent=1)))


def wait_metrics(port, cond, timeout=10.0, what="condition"):
    """Fetches /metrics until cond(parsed) holds (the status is published about once a
    second); returns (parsed, text)."""
    deadline = time.time() + timeout
    while True:
        status, _, body = get(port, "/metrics")
        check(status == 200, "/metrics: HTTP %d" % status)
        text = body.decode()
        m = parse_metrics(text)
        if cond(m):
            return m, text
        if time.time() > deadline:
            fail("/metrics: %s not reached in %.0f s:\n%s" % (what, timeout, text))
        time.sleep(0.2)


def tcp_listeners(pid):
    """(address, port) of the TCP sockets process pid listens on, from /proc."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    out = []
    for table, fam in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            addr_hex, port_hex = f[1].split(":")
            raw = bytes.fromhex(addr_hex)
            if fam == 4:
                addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, words)
            out.append((addr, int(port_hex, 16)))
    return out


def relay(up, hport, extra=""):
    """stratumd B: a simulated clock 2-3 s ahead, synchronizing from A (port up), with the
    HTTP listener on 127.0.0.1:hport. Returns (daemon, ntp port)."""
    port = free_udp_port()
    conf = ("listen 127.0.0.1 port %d\nclock sim start %d freq 30\n"
            "server 127.0.0.1 port %d iburst minpoll 0 maxpoll 1\nhttp 127.0.0.1:%d\n%s"
            % (port, int(time.time()) + 3, up, hport, extra))
    return Daemon(conf).start(), port


# ---------------------------------------------------------------- tests

def t_metrics():
    """/metrics of a relay synchronized from another stratumd passes promtool and agrees
    with what the daemon serves, logs and counts."""
    up = free_udp_port()
    a = Daemon(base_conf(up, local=1)).start()
    try:
        hport = free_tcp_port()
        b, port = relay(up, hport)
        try:
            check("IO: http listening on 127.0.0.1 port %d" % hport in b.log(),
                  "no 'http listening' line:\n" + b.log())
            p = wait_synced(port)
            check(p is not None, "relay never served stratum 2:\n" + b.log())
            src = {"source": "127.0.0.1", "port": str(up)}
            m, text = wait_metrics(
                hport, lambda m: maybe(m, "stratum_stratum") == 2 and
                maybe(m, "stratum_source_selected", **src) == 1, what="stratum 2, selected")
            status, headers, _ = get(hport, "/metrics")
            check(headers.get("content-type") == PROM_TYPE, "content type %r" % headers)
            promtool_check(text)

            # System state as served on the wire and logged.
            check(value(m, "stratum_stratum") == p["stratum"] == 2, "stratum")
            check(value(m, "stratum_leap_indicator") == p["li"] == 0, "leap")
            check(value(m, "stratum_sync_state", state="synchronized") == 1 and
                  value(m, "stratum_sync_state", state="unsynchronized") == 0, "sync state")
            check(value(m, "stratum_info", clock="sim") == 1, "clock kind")
            check(abs(value(m, "stratum_root_delay_seconds") - p["rootdelay"]) < 0.001,
                  "root delay %f vs %f" % (value(m, "stratum_root_delay_seconds"), p["rootdelay"]))
            check(value(m, "stratum_sources") == 1, "sources")
            steps = re.findall(r"CLOCK: stepped by ([-+0-9.]+) s", b.log())
            check(steps, "no step logged:\n" + b.log())
            check(value(m, "stratum_clock_steps_total") == len(steps), "clock steps")
            check(abs(value(m, "stratum_clock_last_step_seconds") - float(steps[-1])) < 1e-5,
                  "last step %f, log says %s" % (value(m, "stratum_clock_last_step_seconds"),
                                                 steps[-1]))
            check(value(m, "stratum_uptime_seconds") > 0, "uptime")

            # The source.
            info = labels_of(m, "stratum_source_info")
            check(len(info) == 1 and info[0]["host"] == "127.0.0.1" and
                  info[0]["type"] == "server" and info[0]["port"] == str(up), "info %s" % info)
            check(0 < value(m, "stratum_source_reach", **src) <= 255, "reach")
            check(value(m, "stratum_source_selection", selection="sys.peer", **src) == 1,
                  "selection")
            check(value(m, "stratum_source_stratum", **src) == 1, "source stratum")
            check(value(m, "stratum_source_poll_seconds", **src) in (1, 2), "poll")
            check(value(m, "stratum_source_delay_seconds", **src) >= 0, "delay")
            check(abs(value(m, "stratum_source_offset_seconds", **src)) < 0.1, "source offset")
            check(value(m, "stratum_source_samples_total", **src) >= 1 and
                  value(m, "stratum_source_packets_sent_total", **src) >=
                  value(m, "stratum_source_packets_received_total", **src), "source counters")

            # Server counters grow with the requests it receives, as SIGUSR1 counts them.
            # The listener's copy is at most a second old and nothing else reaches this
            # daemon's server port, so once it shows the SIGUSR1 count it is exact.
            def synced_with_sigusr1():
                c = b.counters()
                m, text = wait_metrics(
                    hport, lambda m: maybe(m, "stratum_server_received_total") == c["ss_received"],
                    what="ss_received %d" % c["ss_received"])
                return c, m, text
            c0, m0, _ = synced_with_sigusr1()
            for _ in range(25):
                check(exchange(port, req()) is not None, "no reply from the relay")
            exchange(port, bytes([0x17, 0, 3, 0x2a]) + bytes(44), timeout=0.2)  # mode 7, v2
            exchange(port, req()[:47], timeout=0.2)                           # short, v4 mode 3
            c, m, text = synced_with_sigusr1()
            for name, labels, delta in (
                    ("stratum_server_received_total", {}, 27),
                    ("stratum_server_packets_total", {"outcome": "processed"}, 25),
                    ("stratum_server_packets_total", {"outcome": "declined"}, 1),
                    ("stratum_server_packets_total", {"outcome": "badformat"}, 1),
                    ("stratum_server_packets_by_mode_total", {"mode": "3"}, 26),
                    ("stratum_server_packets_by_mode_total", {"mode": "7"}, 1),
                    ("stratum_server_packets_by_version_total", {"version": "4"}, 26),
                    ("stratum_server_packets_by_version_total", {"version": "2"}, 1),
                    ("stratum_server_dropped_total", {"reason": "mode7"}, 1),
                    ("stratum_server_format_errors_total", {"reason": "short"}, 1)):
                got = value(m, name, **labels) - value(m0, name, **labels)
                check(got == delta, "%s%s grew by %s, want %d" % (name, labels, got, delta))
            for name, labels, counter in (
                    ("stratum_server_received_total", {}, "ss_received"),
                    ("stratum_server_packets_total", {"outcome": "processed"}, "ss_processed"),
                    ("stratum_server_packets_total", {"outcome": "declined"}, "ss_declined"),
                    ("stratum_server_packets_total", {"outcome": "badformat"}, "ss_badformat"),
                    ("stratum_server_packets_total", {"outcome": "limited"}, "ss_limited"),
                    ("stratum_server_kod_sent_total", {}, "ss_kodsent"),
                    ("stratum_server_packets_by_mode_total", {"mode": "3"}, "mode3"),
                    ("stratum_server_dropped_total", {"reason": "mode7"}, "srv_mode7"),
                    ("stratum_server_format_errors_total", {"reason": "short"}, "pkt_short")):
                check(value(m, name, **labels) == c.get(counter, 0),
                      "%s%s %s, SIGUSR1 %s=%s" % (name, labels, value(m, name, **labels), counter,
                                                  c.get(counter)))
            promtool_check(text)
        finally:
            b.stop()
    finally:
        a.stop()


def t_status_json():
    """/status.json validates against the schema and says what /metrics says."""
    up = free_udp_port()
    a = Daemon(base_conf(up, local=1)).start()
    try:
        hport = free_tcp_port()
        b, port = relay(up, hport)
        try:
            check(wait_synced(port) is not None, "relay never served stratum 2:\n" + b.log())
            deadline = time.time() + 10
            while True:
                status, headers, body = get(hport, "/status.json")
                check(status == 200, "/status.json: HTTP %d" % status)
                check(headers.get("content-type") == "application/json", "type %r" % headers)
                doc = json.loads(body)
                validate_status(doc)
                if (doc["sources"] and doc["sources"][0]["selected"] and
                        doc["system"]["state"] == "synchronized"):
                    break
                check(time.time() < deadline, "never synchronized:\n%s" % body.decode())
                time.sleep(0.2)
            s = doc["system"]
            check(doc["schema_version"] == 1, "schema_version")
            check(s["state"] == "synchronized" and s["synchronized"] and s["stratum"] == 2,
                  "system %s" % s)
            check(s["refid"] == "127.0.0.1", "refid %r" % s["refid"])
            check(s["system_peer_address"] == "127.0.0.1:%d" % up, "peer %r" % s["system_peer_address"])
            check(doc["clock"]["kind"] == "sim" and doc["clock"]["steps"] >= 1, "clock %s" % doc["clock"])
            src = doc["sources"][0]
            check(src["address"] == "127.0.0.1" and src["port"] == up and src["host"] == "127.0.0.1",
                  "source %s" % src)
            check(src["reach"] > 0 and src["selection"] == "sys.peer" and src["tally"] == "*" and
                  src["stratum"] == 1 and src["refid"] == "LOCL", "source %s" % src)
            check(s["system_peer"] == src["associd"], "system_peer %r" % s["system_peer"])
            check(src["offset"] is not None and src["delay"] is not None and src["filter"],
                  "no sample in %s" % src)
            # The same associd in /metrics.
            m, _ = wait_metrics(hport, lambda m: True)
            check(labels_of(m, "stratum_source_info")[0]["associd"] == str(src["associd"]),
                  "associd differs")
            # The server counters are those of SIGUSR1.
            exchange(port, req())
            c = b.counters()
            deadline = time.time() + 5
            while True:
                doc = json.loads(get(hport, "/status.json")[2])
                if doc["server"]["counters"]["ss_received"] == c["ss_received"]:
                    break
                check(time.time() < deadline, "ss_received %d, SIGUSR1 %d" % (
                    doc["server"]["counters"]["ss_received"], c["ss_received"]))
                time.sleep(0.2)
            for k, v in c.items():
                if k in doc["server"]["counters"]:
                    check(doc["server"]["counters"][k] == v, "%s: %s vs SIGUSR1 %s" % (
                        k, doc["server"]["counters"][k], v))
        finally:
            b.stop()
    finally:
        a.stop()


def t_requests():
    """404 for other paths, 405 (with Allow) for other methods, HEAD without a body,
    keep-alive; a daemon without sources (workers 0, local clock) renders and passes
    promtool too."""
    port = free_udp_port()
    hport = free_tcp_port()
    d = Daemon(base_conf(port, workers=0, local=3) + "http 127.0.0.1:%d\n" % hport).start()
    try:
        for path in ("/", "/metrics/", "/status", "/metrics.json", "/../etc/passwd", "/" + "a" * 2000):
            status, _, _ = get(hport, path)
            check(status == 404, "%s: HTTP %d" % (path[:40], status))
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            status, headers, _ = get(hport, "/metrics", method=method, body=b"x=1")
            check(status == 405 and headers.get("allow") == "GET, HEAD",
                  "%s: HTTP %d %s" % (method, status, headers))
        status, headers, body = get(hport, "/metrics", method="HEAD")
        check(status == 200 and body == b"" and int(headers["content-length"]) > 1000,
              "HEAD: %d %s %d" % (status, headers, len(body)))
        # Query strings are not part of the path.
        check(get(hport, "/metrics?x=1")[0] == 200, "query string")
        # Two requests on one connection.
        conn = http.client.HTTPConnection("127.0.0.1", hport, timeout=5)
        try:
            for path in ("/metrics", "/status.json", "/metrics"):
                status, _, body = get(hport, path, conn=conn)
                check(status == 200 and len(body) > 0, "keep-alive %s: %d" % (path, status))
        finally:
            conn.close()
        m, text = wait_metrics(hport, lambda m: True)
        check(value(m, "stratum_sync_state", state="local clock") == 1, "local clock state")
        check(value(m, "stratum_stratum") == 3, "stratum 3")
        check(not labels_of(m, "stratum_source_reach"), "sources without sources")
        doc = json.loads(get(hport, "/status.json")[2])
        validate_status(doc)
        check(doc["sources"] == [] and doc["system"]["system_peer"] is None, "no sources")
        promtool_check(text)
        # A client that connects and says nothing does not stop others.
        idle = [socket.create_connection(("127.0.0.1", hport)) for _ in range(3)]
        try:
            check(get(hport, "/metrics")[0] == 200, "with idle connections open")
        finally:
            for s in idle:
                s.close()
    finally:
        d.stop()


def t_bind_exactly():
    """The listener binds exactly the configured address and port: the daemon's only TCP
    listener is 127.0.0.1:PORT (127.0.0.2, also loopback, is refused); [::1]:PORT
    serves IPv6 only."""
    port = free_udp_port()
    hport = free_tcp_port()
    d = Daemon(base_conf(port) + "http 127.0.0.1:%d\n" % hport).start()
    try:
        check(tcp_listeners(d.proc.pid) == [("127.0.0.1", hport)],
              "listeners %s" % tcp_listeners(d.proc.pid))
        check(get(hport, "/metrics")[0] == 200, "127.0.0.1")
        try:
            get(hport, "/metrics", host="127.0.0.2")
            fail("127.0.0.2 answered")
        except ConnectionRefusedError:
            pass
    finally:
        d.stop()
    if not socket.has_ipv6:
        return
    try:
        hport = free_tcp_port(socket.AF_INET6, "::1")
    except OSError:
        print("no IPv6 loopback: IPv6 part skipped")
        return
    d = Daemon(base_conf(port) + "http [::1]:%d\n" % hport).start()
    try:
        check("IO: http listening on ::1 port %d" % hport in d.log(), d.log())
        check(tcp_listeners(d.proc.pid) == [("::1", hport)],
              "listeners %s" % tcp_listeners(d.proc.pid))
        status, _, body = get(hport, "/metrics", host="::1")
        check(status == 200 and b"stratum_stratum 3" in body, "IPv6: %d" % status)
        try:
            get(hport, "/metrics", host="127.0.0.1")
            fail("127.0.0.1 answered on an IPv6 listener")
        except ConnectionRefusedError:
            pass
    finally:
        d.stop()


def t_off_by_default():
    """Without an `http` line the daemon listens on no TCP socket (and has no HTTP
    thread to speak of: only the worker's)."""
    port = free_udp_port()
    d = Daemon(base_conf(port, workers=0)).start()
    try:
        check(exchange(port, req()) is not None, "no NTP reply")
        check(tcp_listeners(d.proc.pid) == [], "listeners %s" % tcp_listeners(d.proc.pid))
        threads = os.listdir("/proc/%d/task" % d.proc.pid)
        check(len(threads) == 1, "workers 0 without http: %d threads" % len(threads))
        check("IO: http" not in d.log(), "http in the log:\n" + d.log())
    finally:
        d.stop()


def t_address_in_use():
    """A second daemon configured with the same HTTP port refuses to start with a clear
    message and exit status 1; the first one goes on serving."""
    hport = free_tcp_port()
    d1 = Daemon(base_conf(free_udp_port()) + "http 127.0.0.1:%d\n" % hport).start()
    try:
        d2 = Daemon(base_conf(free_udp_port()) + "http 127.0.0.1:%d\n" % hport, expect_fail=True)
        d2.start()
        rc = d2.wait_exit()
        want = "IO: http 127.0.0.1 port %d: cannot bind: Address already in use" % hport
        check(rc == 1 and want in d2.log(), "second daemon rc %d:\n%s" % (rc, d2.log()))
        check("PROTO: ready" not in d2.log(), "second daemon got ready")
        check(get(hport, "/metrics")[0] == 200, "first daemon no longer serves")
    finally:
        d1.stop()


def t_config_errors():
    """Bad `http` lines stop the daemon with file:line and the offending word."""
    cases = [
        ("http 127.0.0.1\n", "127.0.0.1"),
        ("http 127.0.0.1:0\n", "'0'"),
        ("http 127.0.0.1:65536\n", "65536"),
        ("http localhost:9100\n", "localhost:9100"),
        ("http ::1:9100\n", "brackets"),
        ("http [::1]9100\n", "[::1]9100"),
        ("http 127.0.0.1:9100 extra\n", "http"),
    ]
    for text, word in cases:
        d = Daemon("clock none\n" + text, expect_fail=True)
        d.start()
        rc = d.wait_exit()
        log = d.log()
        check(rc == 1, "exit %d for %r" % (rc, text))
        check(re.search(re.escape(d.conf_path) + r":2: http", log) is not None,
              "no file:line in %r" % log)
        check(word in log, "offending word %r not in %r" % (word, log))


if __name__ == "__main__":
    serve.run(globals(), __doc__)
