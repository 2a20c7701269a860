#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: stratumd as a relay between real peers, in a private network namespace.
#  1. NTPsec ntpd in orphan mode (stratum 5, no sources; INTEROP.md 1e) serves 127.0.0.1:123;
#     stratumd (clock sim, 1-2 s ahead) synchronizes from it on 127.0.0.1:1123: one step
#     in its log, then it serves stratum 6 with refid 127.0.0.1 and the right time
#     (`stratum query`), and chronyd -Q accepts it.
#  2. stratumd (local stratum 1) upstream on 1123, a stratumd relay on 127.0.0.1:123:
#     NTPsec's ntpdig (port 123 only) sees the relay at stratum 2, no-leap, the right time.
. "$(dirname "$0")/lib.sh"

need_root
need_tools ip setpriv ntpdig chronyd ss
need_server
is_stratumd || { say "SKIP: relays are stratumd's"; exit 77; }
NTPD=${NTPD:-$SRCDIR/.tools/ntpsec-root/usr/sbin/ntpd}
STRATUM=${STRATUM:-$(dirname "$STRATUMD")/stratum}
[ -x "$NTPD" ] || skip_or_fail "NTPsec ntpd not found at $NTPD (scripts/install-deps.sh unpacks it)"
[ -x "$STRATUM" ] || die "stratum not found at $STRATUM"

# wait_stratum NS PORT STRATUM SECONDS: until `stratum query` sees that stratum; 0 or 1
wait_stratum() {
	local ns=$1 port=$2 want=$3 deadline=$((SECONDS + $4))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if run_in "$ns" "${NOCLOCK[@]}" "$STRATUM" query -t 0.5 "127.0.0.1:$port" >"$W/q.out" 2>&1 &&
			grep -qE "^  stratum $want " "$W/q.out"; then
			return 0
		fi
		sleep 0.3
	done
	return 1
}

# --- 1. upstream NTPsec ntpd ---------------------------------------------------------------------
new_netns
cat >"$W/ntp.conf" <<EOC
disable ntp
disable kernel
tos orphan 5 orphanwait 1
driftfile $W/ntp.drift
statsdir $W/
restrict default nomodify nopeer noquery
restrict 127.0.0.0 mask 255.0.0.0
restrict ::1
EOC
ip netns exec "$NS" "${NOCLOCK[@]}" "$NTPD" -n -c "$W/ntp.conf" -p "$W/ntpd.pid" -l "$W/ntpd.log" \
	>"$W/ntpd-stdout.log" 2>&1 &
_pids+=($!)
wait_stratum "$NS" 123 5 40 || die "ntpd never served stratum 5"
pass "ntpd serves stratum 5 (orphan)"

cat >"$W/relay1.conf" <<EOC
listen 127.0.0.1 port 1123
clock sim start $(($(date +%s) + 3))
server 127.0.0.1 iburst minpoll 0 maxpoll 1
EOC
ip netns exec "$NS" "${NOCLOCK[@]}" "$STRATUMD" -c "$W/relay1.conf" -d >"$W/relay1.log" 2>&1 &
_pids+=($!)
if wait_stratum "$NS" 1123 6 30; then
	pass "the relay serves stratum 6 from ntpd"
else
	fail "the relay never served stratum 6 (last query: $(tr '\n' '|' <"$W/q.out"))"
fi
check "the relay stepped its clock once by -0.5..-3 s" \
	grep -qE 'CLOCK: stepped by -(0\.[5-9]|[12]\.)[0-9]* s' "$W/relay1.log"
sleep 3
run_in "$NS" "${NOCLOCK[@]}" "$STRATUM" query -n 4 -i 0.2 127.0.0.1:1123 >"$W/q1.out" 2>&1
say "$(tr '\n' '|' <"$W/q1.out")"
check "relay refid 127.0.0.1 (its upstream)" grep -qE '^  stratum 6   refid 127\.0\.0\.1 ' "$W/q1.out"
off=$(awk '/^  offset/ { print $2; exit }' "$W/q1.out")
check "relay time right to 5 ms (offset $off)" abs_lt "$off" 0.005
q=$(run_in "$NS" "${NOCLOCK[@]}" chronyd -Q -t 5 'server 127.0.0.1 port 1123 iburst maxsamples 1' 2>&1)
say "chronyd -Q: $(tr '\n' '|' <<<"$q")"
off=$(sed -n 's/.*System clock wrong by \([-0-9.]*\) seconds.*/\1/p' <<<"$q")
check "chronyd -Q accepts the relay (wrong by $off s)" abs_lt "$off" 0.01
check "no panic in the relay's log" bash -c "! grep -q panic '$W/relay1.log'"

# --- 2. downstream ntpdig ------------------------------------------------------------------------
new_netns
start_server upstream "$NS" 1123 1 1
start_server relay "$NS" 123 "" 1 "server 127.0.0.1 port 1123 iburst minpoll 0 maxpoll 1"
wait_stratum "$NS" 123 2 30 || fail "the relay on port 123 never served stratum 2"
json=$(run_in "$NS" "${NOCLOCK[@]}" ntpdig -j -t 2 127.0.0.1 2>"$W/ntpdig.err")
say "ntpdig -j: $json"
v=$("$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
bad = []
if d.get("stratum") != 2: bad.append("stratum %r != 2" % d.get("stratum"))
if d.get("leap") != "no-leap": bad.append("leap %r" % d.get("leap"))
if abs(d.get("offset", 1)) >= 0.01: bad.append("offset %r" % d.get("offset"))
print("; ".join(bad) if bad else "stratum 2, no-leap, offset %+.6f s" % d["offset"])
sys.exit(1 if bad else 0)' "$json")
check "ntpdig sees the relay: $v" test $? -eq 0

finish
