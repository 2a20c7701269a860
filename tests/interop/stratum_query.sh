#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: `stratum query` (our client) against real third-party servers.
#  1. chronyd (-x, `local stratum 1`) on a free high port of 127.0.0.1 (INTEROP.md 1a):
#     exit 0, stratum 1, |offset| < 0.1 s, leap none; -n 3 keeps 3 samples; --json valid
#     against docs/schema/stratum-query.schema.json with the same values.
#  2. NTPsec ntpd in orphan mode (`tos orphan 5`, no sources) on 127.0.0.1:123 inside a private
#     network namespace (INTEROP.md 1e; ntpd has no port option): while it starts it is
#     unsynchronized (exit 3, "not synchronized"); then, polled with a deadline, exit 0,
#     stratum 5, refid 127.0.0.1, leap none, |offset| < 0.1 s; --json valid; also over ::1.
# Every server and every stratum run is under `setpriv --bounding-set=-sys_time`; only query
# is run (it never changes a clock).
. "$(dirname "$0")/lib.sh"

STRATUM=${STRATUM:-$(dirname "$STRATUMD")/stratum}
NTPD=${NTPD:-$SRCDIR/.tools/ntpsec-root/usr/sbin/ntpd}
SCHEMA=$SRCDIR/docs/schema/stratum-query.schema.json

need_root
need_tools ip setpriv chronyd ss
[ -x "$STRATUM" ] || die "stratum not found at $STRATUM"
[ -x "$NTPD" ] || skip_or_fail "NTPsec ntpd not found at $NTPD (scripts/install-deps.sh unpacks it)"
"$PY" -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema missing ($PY)"

# stq NS OUTFILE ARGS...: run `stratum query ARGS` (in namespace NS, "" = here); status in $?
stq() {
	local ns=$1 out=$2; shift 2
	run_in "$ns" "${NOCLOCK[@]}" "$STRATUM" query "$@" >"$out" 2>"$out.err"
}
# json_check FILE EXPECT...: validate FILE against the schema, then check the first server:
#   EXPECT is key=value (stratum=1, refid=127.0.0.1, leap=none, samples_ok=3) or offset<X.
json_check() {
	"$PY" - "$SCHEMA" "$@" <<'PYEOF'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
try:
    doc = json.load(open(sys.argv[2]))
except Exception as e:
    print("not JSON: %s" % e); sys.exit(1)
errs = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
bad = ["schema: /%s: %s" % ("/".join(map(str, e.path)), e.message) for e in errs[:5]]
s = doc["servers"][0] if doc.get("servers") else {}
for exp in sys.argv[3:]:
    if "<" in exp:
        k, lim = exp.split("<")
        v = s.get(k)
        if not isinstance(v, (int, float)) or abs(v) >= float(lim):
            bad.append("|%s| = %r not below %s" % (k, v, lim))
    else:
        k, want = exp.split("=", 1)
        v = s.get(k)
        if str(v) != want:
            bad.append("%s = %r, want %s" % (k, v, want))
print("; ".join(bad) if bad else "valid, %s" % ", ".join(sys.argv[3:]))
sys.exit(1 if bad else 0)
PYEOF
}
# text_field FILE REGEX: first match group 1 of a sed -E regex in FILE
text_field() { sed -nE "s/$2/\\1/p" "$1" | head -n 1; }

# --- 1. chronyd, local stratum 1, high port --------------------------------------------------
port=$(free_port)
cat >"$W/chronyd.conf" <<EOF
port $port
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 1
cmdport 0
pidfile $W/chronyd.pid
driftfile $W/chronyd.drift
EOF
"${NOCLOCK[@]}" chronyd -x -d -u root -f "$W/chronyd.conf" >"$W/chronyd.log" 2>&1 &
SRV_PID[chronyd]=$!
_pids+=("$!")
say "started chronyd (pid $!) on 127.0.0.1:$port, local stratum 1"
wait_ready chronyd "" "$port"

stq "" "$W/c1.out" "127.0.0.1:$port"
rc=$?
say "stratum query chronyd: status $rc"; sed 's/^/    /' "$W/c1.out"
check "chronyd: exit 0 (status $rc)" test "$rc" -eq 0
check "chronyd: stratum 1" grep -qE '^  stratum 1   refid ' "$W/c1.out"
check "chronyd: leap none" grep -qE '   leap none   ' "$W/c1.out"
off=$(text_field "$W/c1.out" '^  offset ([-+0-9.]+) s .*')
check "chronyd: offset $off within 0.1 s" abs_lt "$off" 0.1
# chronyd's local reference ID is 127.127.1.1 (0x7F7F0101): at stratum 1 it is read as ASCII
# (non-printable octets shown as '.'), whatever the letters, it must be printed
ref=$(text_field "$W/c1.out" '^  stratum 1   refid (.+)   leap .*')
check "chronyd: refid printed ('$ref')" test -n "$ref"

stq "" "$W/c2.out" -n 3 -i 0.2 "127.0.0.1:$port"
rc=$?
check "chronyd: -n 3 exit 0 (status $rc)" test "$rc" -eq 0
check "chronyd: -n 3 keeps 3 of 3 samples" grep -q '(best of 3/3)' "$W/c2.out"

stq "" "$W/c.json" --json "127.0.0.1:$port"
rc=$?
check "chronyd: --json exit 0 (status $rc)" test "$rc" -eq 0
v=$(json_check "$W/c.json" status=ok stratum=1 leap=none version=4 "offset<0.1")
check "chronyd --json: $v" test $? -eq 0

# --- 2. NTPsec ntpd, orphan mode, port 123 in a namespace -----------------------------------
new_netns
cat >"$W/ntp.conf" <<EOF
disable ntp
disable kernel
tos orphan 5 orphanwait 1
driftfile $W/ntp.drift
statsdir $W/
restrict default nomodify nopeer noquery
restrict 127.0.0.0 mask 255.0.0.0
restrict ::1
EOF
ip netns exec "$NS" "${NOCLOCK[@]}" "$NTPD" -n -c "$W/ntp.conf" -p "$W/ntpd.pid" -l "$W/ntpd.log" \
	>"$W/ntpd-stdout.log" 2>&1 &
npid=$!
_pids+=("$npid")
say "started ntpd (pid $npid) in $NS on port 123, tos orphan 5"

# Poll until it serves leap 0 (orphan after its orphanwait: ~2 s here; deadline 40 s).
deadline=$((SECONDS + 40))
seen_unsync=0
rc=-1
while [ "$SECONDS" -lt "$deadline" ]; do
	kill -0 "$npid" 2>/dev/null || die "ntpd exited; see ntpd.log"
	stq "$NS" "$W/n1.out" -t 0.5 127.0.0.1
	rc=$?
	[ "$rc" -eq 0 ] && break
	if [ "$rc" -eq 3 ] && grep -q 'not synchronized' "$W/n1.out"; then seen_unsync=1; fi
	sleep 0.3
done
say "stratum query ntpd: status $rc after $((SECONDS - deadline + 40)) s"; sed 's/^/    /' "$W/n1.out"
check "ntpd: exit 0 once orphan (status $rc)" test "$rc" -eq 0
if [ "$seen_unsync" -eq 1 ]; then
	pass "ntpd: while starting it was reported 'not synchronized' with exit 3"
else
	say "note: ntpd was already synchronized at the first query (no unsynchronized phase seen)"
fi
check "ntpd: stratum 5, refid 127.0.0.1" grep -qE '^  stratum 5   refid 127\.0\.0\.1   leap none ' "$W/n1.out"
off=$(text_field "$W/n1.out" '^  offset ([-+0-9.]+) s .*')
check "ntpd: offset $off within 0.1 s" abs_lt "$off" 0.1
check "ntpd: label 127.0.0.1:123" grep -qx '127.0.0.1:123' "$W/n1.out"

stq "$NS" "$W/n.json" --json -n 2 -i 0.2 127.0.0.1
rc=$?
check "ntpd: --json exit 0 (status $rc)" test "$rc" -eq 0
v=$(json_check "$W/n.json" status=ok stratum=5 refid=127.0.0.1 leap=none port=123 samples_ok=2 "offset<0.1")
check "ntpd --json: $v" test $? -eq 0

# NTPv3 requests are answered in kind
stq "$NS" "$W/n3.out" --ntp-version 3 127.0.0.1
rc=$?
check "ntpd: --ntp-version 3 answered as NTPv3 (status $rc)" grep -qE '   NTPv3$' "$W/n3.out"

# ntpd also listens on ::1 (when the namespace has it)
if ip -n "$NS" -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	stq "$NS" "$W/n6.out" -6 ::1
	rc=$?
	check "ntpd over IPv6 [::1]:123: exit 0, stratum 5 (status $rc)" \
		grep -qE '^  stratum 5   ' "$W/n6.out"
else
	say "note: no ::1 in $NS: IPv6 check left out"
fi

finish
