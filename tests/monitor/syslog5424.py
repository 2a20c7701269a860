#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A strict RFC 5424 parser and a test syslog collector on loopback, for the fleet monitor's
alarm tests (src/monitor/alarm.c sends to it). Standard library only.

  parse_5424(line) -> dict     one message (bytes or str, no framing); ValueError when it
                               breaks the RFC 5424 sec. 6 grammar
  Listener(proto='udp'|'tcp')  binds 127.0.0.1:0 and collects messages in a thread: UDP one
                               message per datagram (RFC 5426), TCP octet counting
                               (RFC 6587 sec. 3.4.1); .port, .messages, .errors, .wait(n,
                               timeout), .connections, .drop_connections(), .close()

Run it to self-test: python3 tests/monitor/syslog5424.py
"""
import datetime
import re
import selectors
import socket
import threading
import time

__all__ = ["parse_5424", "Listener"]

BOM = b"\xef\xbb\xbf"
_TIME_RE = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})\Z")
_PEN_RE = re.compile(r"[0-9]+(\.[0-9]+)*\Z")
_FRAME_RE = re.compile(rb"([1-9][0-9]{0,8}) ")


class _Cursor:
    """The bytes of one message and where parsing stands in them."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def fail(self, what):
        raise ValueError("%s at offset %d" % (what, self.pos))

    def peek(self, n=1):
        return self.data[self.pos:self.pos + n]

    def at_end(self):
        return self.pos >= len(self.data)

    def expect(self, lit, what):
        if self.peek(len(lit)) != lit:
            self.fail("expected %s" % what)
        self.pos += len(lit)

    def token(self):
        """Bytes up to the next space or the end."""
        end = self.data.find(b" ", self.pos)
        if end < 0:
            end = len(self.data)
        tok = self.data[self.pos:end]
        self.pos = end
        return tok


def _header_field(cur, name, maxlen):
    """NILVALUE / 1*maxlen PRINTUSASCII (RFC 5424 sec. 6.2.4 - 6.2.7); None for NILVALUE."""
    tok = cur.token()
    if not tok:
        cur.fail("empty %s" % name)
    if len(tok) > maxlen:
        cur.fail("%s longer than %d" % (name, maxlen))
    if any(b < 33 or b > 126 for b in tok):
        cur.fail("%s holds a byte outside printable US-ASCII" % name)
    cur.expect(b" ", "SP after %s" % name)
    return None if tok == b"-" else tok.decode("ascii")


def _timestamp(cur):
    """FULL-DATE "T" FULL-TIME (RFC 5424 sec. 6.2.3, RFC 3339 with its restrictions)."""
    tok = cur.token()
    if tok == b"-":
        cur.expect(b" ", "SP after TIMESTAMP")
        return None
    m = _TIME_RE.match(tok)
    if m is None:
        cur.fail("malformed TIMESTAMP %r" % tok)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, second)  # no leap second: 60
    except ValueError as e:
        cur.fail("TIMESTAMP %r out of range (%s)" % (tok, e))
    zone = m.group(8)
    if zone != b"Z" and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        cur.fail("TIME-OFFSET %r out of range" % zone)
    cur.expect(b" ", "SP after TIMESTAMP")
    return tok.decode("ascii")


def _sd_name(cur, what):
    """SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']', '"'."""
    start = cur.pos
    while not cur.at_end():
        b = cur.data[cur.pos]
        if b < 33 or b > 126 or b in b'=]"':
            break
        cur.pos += 1
    name = cur.data[start:cur.pos]
    if not name:
        cur.fail("empty %s" % what)
    if len(name) > 32:
        cur.fail("%s longer than 32" % what)
    return name.decode("ascii")


def _param_value(cur):
    """PARAM-VALUE up to the closing '"': '\\"', '\\\\' and '\\]' unescaped; any other
    backslash is kept with what follows (sec. 6.3.3); a bare ']' is an error."""
    out = bytearray()
    data = cur.data
    while True:
        if cur.at_end():
            cur.fail("unterminated PARAM-VALUE")
        b = data[cur.pos]
        if b == 0x22:  # '"'
            cur.pos += 1
            break
        if b == 0x5D:  # ']'
            cur.fail("']' not escaped in PARAM-VALUE")
        if b == 0x5C and cur.pos + 1 < len(data) and data[cur.pos + 1] in b'"\\]':
            out.append(data[cur.pos + 1])
            cur.pos += 2
            continue
        out.append(b)
        cur.pos += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as e:
        cur.fail("PARAM-VALUE is not UTF-8 (%s)" % e.reason)


def _structured_data(cur):
    """NILVALUE / 1*SD-ELEMENT, as {SD-ID: {PARAM-NAME: value}} ({} for NILVALUE). A
    repeated SD-PARAM (allowed by sec. 6.3.3) keeps its last value."""
    if cur.peek() == b"-":
        cur.pos += 1
        return {}
    if cur.peek() != b"[":
        cur.fail("expected STRUCTURED-DATA")
    sd = {}
    while cur.peek() == b"[":
        cur.pos += 1
        sd_id = _sd_name(cur, "SD-ID")
        if "@" in sd_id:
            name, _, pen = sd_id.partition("@")
            if not name or not _PEN_RE.match(pen):
                cur.fail("malformed SD-ID %r" % sd_id)
        if sd_id in sd:
            cur.fail("SD-ID %r repeated (sec. 6.3.2)" % sd_id)
        params = {}
        while True:
            c = cur.peek()
            if c == b"]":
                cur.pos += 1
                break
            if c != b" ":
                cur.fail("expected SP or ']' in SD-ELEMENT")
            cur.pos += 1
            pname = _sd_name(cur, "PARAM-NAME")
            cur.expect(b'="', "'=\"' after PARAM-NAME")
            params[pname] = _param_value(cur)
        sd[sd_id] = params
    return sd


def parse_5424(line):
    """One RFC 5424 message as a dict: pri, facility, severity, version, timestamp,
    hostname, app, procid, msgid (None for a NILVALUE), sd ({id: {param: value}}) and msg
    (None when absent; text after a BOM must be UTF-8, other text is MSG-ANY and decoded
    with replacement). Raises ValueError on anything the grammar does not allow."""
    if isinstance(line, str):
        data = line.encode("utf-8")
    elif isinstance(line, (bytes, bytearray, memoryview)):
        data = bytes(line)
    else:
        raise TypeError("parse_5424 takes bytes or str")
    cur = _Cursor(data)

    cur.expect(b"<", "'<' (PRI)")
    m = re.compile(rb"([0-9]{1,3})>").match(data, cur.pos)
    if m is None:
        cur.fail("malformed PRI")
    pri = int(m.group(1))
    if pri > 191:
        cur.fail("PRI %d above 191" % pri)
    cur.pos = m.end()
    m = re.compile(rb"[1-9][0-9]{0,2} ").match(data, cur.pos)
    if m is None:
        cur.fail("malformed VERSION")
    version = int(m.group(0))
    if version != 1:
        cur.fail("VERSION %d is not 1" % version)
    cur.pos = m.end()

    out = {"pri": pri, "facility": pri >> 3, "severity": pri & 7, "version": version}
    out["timestamp"] = _timestamp(cur)
    out["hostname"] = _header_field(cur, "HOSTNAME", 255)
    out["app"] = _header_field(cur, "APP-NAME", 48)
    out["procid"] = _header_field(cur, "PROCID", 128)
    # MSGID is followed by SP and STRUCTURED-DATA, which is never empty.
    out["msgid"] = _header_field(cur, "MSGID", 32)
    out["sd"] = _structured_data(cur)

    if cur.at_end():
        out["msg"] = None
        return out
    cur.expect(b" ", "SP before MSG")
    rest = data[cur.pos:]
    if rest.startswith(BOM):
        try:
            out["msg"] = rest[len(BOM):].decode("utf-8")
        except UnicodeDecodeError as e:
            cur.fail("MSG after a BOM is not UTF-8 (%s)" % e.reason)
    else:
        out["msg"] = rest.decode("utf-8", errors="replace")
    return out


class Listener:
    """A syslog collector on 127.0.0.1 (or host) and a free port, collecting in a thread.

    messages: the parsed messages in arrival order; raw: their bytes; errors: (bytes,
    reason) for what did not parse or frame (a TCP connection with a framing error is
    closed, as RFC 6587 leaves nothing else to do); connections: TCP connections accepted.
    """

    def __init__(self, proto="udp", host="127.0.0.1"):
        if proto not in ("udp", "tcp"):
            raise ValueError("proto must be 'udp' or 'tcp'")
        self.proto = proto
        self.messages = []
        self.raw = []
        self.errors = []
        self.connections = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._dropped = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if proto == "udp":
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
        else:
            self._sock = socket.socket(family, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        if proto == "tcp":
            self._sock.listen(16)
        self.host = host
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run_udp if proto == "udp" else
                                        self._run_tcp, name="syslog5424-" + proto, daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self):
        """The remote as the monitor's --alarm-remote takes it."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.proto, host, self.port)

    def _record(self, raw):
        try:
            msg = parse_5424(raw)
        except ValueError as e:
            err = (raw, str(e))
            msg = None
        with self._cond:
            if msg is None:
                self.errors.append(err)
            else:
                self.messages.append(msg)
                self.raw.append(raw)
            self._cond.notify_all()

    def _framing_error(self, raw, reason):
        with self._cond:
            self.errors.append((bytes(raw), reason))
            self._cond.notify_all()

    def _run_udp(self):
        self._sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            self._record(data)

    def _frames(self, buf):
        """Takes the complete octet-counted frames off the front of buf. Returns False on
        a framing error (recorded)."""
        while buf:
            m = _FRAME_RE.match(buf)
            if m is None:
                if not buf[:1].isdigit() or buf[:1] == b"0" or len(buf) > 10 or (
                        not buf.isdigit()):
                    self._framing_error(buf, "malformed octet-counting header")
                    return False
                return True  # the header is not complete yet
            size = int(m.group(1))
            if len(buf) < m.end() + size:
                return True
            self._record(bytes(buf[m.end():m.end() + size]))
            del buf[:m.end() + size]
        return True

    def _run_tcp(self):
        sel = selectors.DefaultSelector()
        sel.register(self._sock, selectors.EVENT_READ, None)
        bufs = {}

        def drop(conn):
            sel.unregister(conn)
            leftover = bufs.pop(conn)
            conn.close()
            return leftover

        while not self._stop.is_set():
            if self._drop.is_set():
                for conn in list(bufs):
                    drop(conn)
                self._drop.clear()
                self._dropped.set()
            for key, _ in sel.select(timeout=0.05):
                if key.fileobj is self._sock:
                    try:
                        conn, _ = self._sock.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, None)
                    bufs[conn] = bytearray()
                    with self._cond:
                        self.connections += 1
                        self._cond.notify_all()
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    leftover = drop(conn)
                    if leftover:
                        self._framing_error(leftover, "connection closed inside a frame")
                    continue
                bufs[conn] += data
                if not self._frames(bufs[conn]):
                    drop(conn)
        for conn in list(bufs):
            drop(conn)
        sel.close()

    def drop_connections(self, timeout=2.0):
        """Closes the accepted TCP connections (a collector restarting)."""
        self._dropped.clear()
        self._drop.set()
        if not self._dropped.wait(timeout):
            raise TimeoutError("the listener thread did not drop its connections")

    def wait(self, n, timeout=5.0):
        """True once at least n messages arrived, False after timeout seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.messages) >= n, timeout)

    def wait_connections(self, n, timeout=5.0):
        with self._cond:
            return self._cond.wait_for(lambda: self.connections >= n, timeout)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


# ---- self-test ---------------------------------------------------------------------------

def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def _selftest_parse():
    # RFC 5424 sec. 6.5, examples 1, 3 and 4.
    m = parse_5424(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                   b"\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8")
    _check(m["pri"] == 34 and m["facility"] == 4 and m["severity"] == 2, m)
    _check(m["timestamp"] == "2003-10-11T22:14:15.003Z" and m["hostname"] ==
           "mymachine.example.com" and m["app"] == "su" and m["procid"] is None and
           m["msgid"] == "ID47" and m["sd"] == {}, m)
    _check(m["msg"] == "'su root' failed for lonvick on /dev/pts/8", m)
    m = parse_5424('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                   '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
                   'An application event log entry...')
    _check(m["sd"] == {"exampleSDID@32473": {"iut": "3", "eventSource": "Application",
                                             "eventID": "1011"}}, m)
    _check(m["msg"] == "An application event log entry...", m)
    m = parse_5424('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                   '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
                   '[examplePriority@32473 class="high"]')
    _check(m["msg"] is None and m["sd"]["examplePriority@32473"] == {"class": "high"}, m)
    m = parse_5424('<0>1 - - - - - -')
    _check(m["timestamp"] is None and m["hostname"] is None and m["msgid"] is None and
           m["sd"] == {} and m["msg"] is None, m)
    m = parse_5424('<191>1 1985-04-12T19:20:50.52-04:00 h a 1 m - ')
    _check(m["pri"] == 191 and m["msg"] == "", m)
    # What alarm.c writes, escaping included.
    m = parse_5424('<26>1 2026-12-07T01:02:03.456Z mon1 stratum-monitor 4242 enter '
                   '[stratum@32473 device="a\\"b\\\\c\\]d" host="x\\y" group="" '
                   'offset="+0.412317000" sweep="42"] a"b\\c]d not standard: x (critical)')
    sd = m["sd"]["stratum@32473"]
    _check(sd == {"device": 'a"b\\c]d', "host": "x\\y", "group": "",
                  "offset": "+0.412317000", "sweep": "42"}, sd)
    _check(m["msg"] == 'a"b\\c]d not standard: x (critical)', m)
    _check(parse_5424(b"<1>1 - h a - m [x@1 v=\"\xc3\xa9\"] \xff")["msg"] == "\ufffd", "any")

    bad = [
        b"", b"<", b"<>1 - - - - - -", b"<1234>1 - - - - - -", b"<192>1 - - - - - -",
        b"34>1 - - - - - -", b"<34>2 - - - - - -", b"<34>01 - - - - - -", b"<34>1  - - - - -",
        b"<34>1 2003-10-11 h a p m -", b"<34>1 2003-13-11T22:14:15Z h a p m -",
        b"<34>1 2003-02-30T22:14:15Z h a p m -", b"<34>1 2003-10-11T22:14:60Z h a p m -",
        b"<34>1 2003-10-11T22:14:15.1234567Z h a p m -",
        b"<34>1 2003-10-11T22:14:15+24:00 h a p m -", b"<34>1 2003-10-11t22:14:15Z h a p m -",
        b"<34>1 - " + b"h" * 256 + b" a p m -", b"<34>1 - h " + b"a" * 49 + b" p m -",
        b"<34>1 - h a " + b"p" * 129 + b" m -", b"<34>1 - h a p " + b"m" * 33 + b" -",
        b"<34>1 - h\x01 a p m -", b"<34>1 - h a p m", b"<34>1 - h a p m ",
        b"<34>1 - h a p m x", b"<34>1 - h a p m -x", b"<34>1 - h a p m [", b"<34>1 - h a p m []",
        b"<34>1 - h a p m [x@1", b"<34>1 - h a p m [x@1 a=\"b\"", b"<34>1 - h a p m [x@1 a]",
        b"<34>1 - h a p m [x@1 a=b]", b"<34>1 - h a p m [x@1 a=\"]\"]",
        b"<34>1 - h a p m [x@1  a=\"b\"]", b"<34>1 - h a p m [x@1 a=\"b\" ]",
        b"<34>1 - h a p m [x@1 a=\"\xff\"]", b"<34>1 - h a p m [x@abc]", b"<34>1 - h a p m [@1]",
        b"<34>1 - h a p m [x@1][x@1]", b"<34>1 - h a p m [x@1]x",
        b"<34>1 - h a p m [" + b"x" * 33 + b"]", b"<34>1 - h a p m - \xef\xbb\xbf\xff",
    ]
    for line in bad:
        try:
            parse_5424(line)
        except ValueError:
            continue
        raise AssertionError("accepted: %r" % line)
    try:
        parse_5424(None)
    except TypeError:
        pass
    else:
        raise AssertionError("accepted None")


def _msg(sweep):
    return ('<26>1 2026-12-07T01:02:03.456Z mon1 stratum-monitor 4242 enter '
            '[stratum@32473 device="cam-17" sweep="%d"] cam-17 not standard' % sweep).encode()


def _frame(msg):
    return b"%d %s" % (len(msg), msg)


def _selftest_udp():
    with Listener("udp") as lst:
        _check(lst.url() == "udp://127.0.0.1:%d" % lst.port, lst.url())
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(_msg(1), ("127.0.0.1", lst.port))
        s.sendto(b"not syslog", ("127.0.0.1", lst.port))
        s.sendto(_msg(2), ("127.0.0.1", lst.port))
        _check(lst.wait(2, 5), "udp: messages did not arrive")
        s.close()
        _check([m["sd"]["stratum@32473"]["sweep"] for m in lst.messages] == ["1", "2"],
               lst.messages)
        _check(len(lst.errors) == 1 and lst.errors[0][0] == b"not syslog", lst.errors)
        _check(not lst.wait(3, 0.1), "wait() did not time out")


def _selftest_tcp():
    with Listener("tcp") as lst:
        s = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        s.sendall(_frame(_msg(1)) + _frame(_msg(2)))          # two frames in one segment
        for b in _frame(_msg(3)):                              # one frame byte by byte
            s.sendall(bytes([b]))
            time.sleep(0.001)
        _check(lst.wait(3, 5), "tcp: messages did not arrive")
        _check(lst.connections == 1, lst.connections)
        lst.drop_connections()
        _check(s.recv(1) == b"", "the connection was not dropped")
        s.close()
        s = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        s.sendall(_frame(_msg(4)))
        _check(lst.wait(4, 5), "tcp: no message after reconnecting")
        _check(lst.connections == 2, lst.connections)
        s.sendall(b"012 garbage")                               # MSG-LEN has no leading 0
        _check(s.recv(1) == b"", "a framing error did not close the connection")
        s.close()
        s = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        s.sendall(b"40 <26>1 short")                            # closed inside a frame
        s.close()
        deadline = time.monotonic() + 5
        while len(lst.errors) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        _check([m["sd"]["stratum@32473"]["sweep"] for m in lst.messages] == ["1", "2", "3", "4"],
               lst.messages)
        _check(len(lst.errors) == 2, lst.errors)


def _selftest():
    _selftest_parse()
    _selftest_udp()
    _selftest_tcp()
    print("syslog5424: self-test passed")


if __name__ == "__main__":
    _selftest()
