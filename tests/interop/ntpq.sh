#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: NTPsec's ntpq and monitoring-plugins' check_ntp_peer read stratumd's control
# protocol (mode 6), in private network namespaces (ntpq only speaks to port 123).
#  1. A relay (clock sim) on 127.0.0.1:123 synchronizes from a stratumd `local stratum 1` on
#     127.0.0.1:1123; a second source, 127.0.0.2:1123, never answers. ntpq -pn shows the
#     upstream as the system peer (*) at stratum 1 and the silent one rejected with reach 0;
#     `as` shows two associations (sys.peer, reject); `rv` says stratum 2, refid 127.0.0.1,
#     sync_state synchronized and names the system peer's association; `rv 0 a,b` returns
#     exactly those; an unknown variable is UNKNOWNVAR; the per-association variables agree
#     with `as`; sysstats counts the NTP requests this test sent; mrulist lists the test's
#     client (127.0.0.5, its port, mode 3, version 4, its count). The daemon's own view
#     (SIGUSR1 counters) matches what ntpq printed.
#  2. check_ntp_peer: OK against the relay; against an unsynchronized stratumd it is not OK.
#  3. Access from another host (a second namespace over a veth pair, 198.18.0.0/24):
#     without a restrict line for it ntpq gets no answer; with `restrict 198.18.0.0/24` it
#     does; with `noquery` it does not; with `nomrulist` mrulist is refused while rv works.
. "$(dirname "$0")/lib.sh"

need_root
need_tools ip setpriv ss
need_server
is_stratumd || { say "SKIP: the control protocol is stratumd's (chronyd has none)"; exit 77; }
NTPQ=${NTPQ:-$SRCDIR/.tools/ntpsec-root/usr/bin/ntpq}
CHECK_NTP_PEER=${CHECK_NTP_PEER:-/usr/lib/nagios/plugins/check_ntp_peer}
[ -x "$NTPQ" ] || skip_or_fail "NTPsec ntpq not found at $NTPQ (scripts/install-deps.sh unpacks it)"
[ -x "$CHECK_NTP_PEER" ] || skip_or_fail "check_ntp_peer not found (Debian monitoring-plugins-basic)"

ntpq() { # ntpq NS ARGS...: ntpq with a bounded run time
	local ns=$1; shift
	run_in "$ns" timeout 30 "$NTPQ" "$@" 2>&1
}

# start_relay NAME NS CONFIG-LINES...: a stratumd on port 123 in NS (clock sim), not waited for
start_relay() {
	local name=$1 ns=$2 line; shift 2
	{
		echo "# $IT_NAME: $name"
		echo "clock sim"
		echo "pidfile $W/$name.pid"
		for line in "$@"; do echo "$line"; done
	} >"$W/$name.conf"
	ip netns exec "$ns" "${NOCLOCK[@]}" "$STRATUMD" -c "$W/$name.conf" -d >"$W/$name.log" 2>&1 &
	SRV_PID[$name]=$!
	SRV_LOG[$name]=$W/$name.log
	_pids+=("$!")
}

# --- 1. ntpq against a relay -----------------------------------------------------------------
new_netns
NS1=$NS
start_server upstream "$NS1" 1123 1 1
start_relay relay "$NS1" "listen 127.0.0.1 port 123" "listen ::1 port 123" \
	"server 127.0.0.1 port 1123 iburst minpoll 0 maxpoll 1" \
	"server 127.0.0.2 port 1123 iburst minpoll 0 maxpoll 1"
deadline=$((SECONDS + 30))
until ntpq "$NS1" -pn 127.0.0.1 >"$W/peers.out" && grep -q '^\*127\.0\.0\.1 ' "$W/peers.out"; do
	[ "$SECONDS" -lt "$deadline" ] || die "no system peer in ntpq -p within 30 s: $(tr '\n' '|' <"$W/peers.out")"
	sleep 0.5
done
say "ntpq -pn: $(tr '\n' '|' <"$W/peers.out")"
up=$(grep '^\*127\.0\.0\.1 ' "$W/peers.out")
silent=$(grep '^ 127\.0\.0\.2 ' "$W/peers.out")
check "-p: the upstream is the system peer, refid .LOCL., stratum 1, type u" \
	awk -v l="$up" 'BEGIN { split(l, f); exit !(f[2] == ".LOCL." && f[3] == 1 && f[4] == "u") }'
check "-p: the upstream is reachable (reach != 0)" \
	awk -v l="$up" 'BEGIN { split(l, f); exit !(f[7] + 0 > 0) }'
check "-p: the silent source is rejected (' '), stratum 16, reach 0" \
	awk -v l="$silent" 'BEGIN { split(l, f); exit !(f[3] == 16 && f[7] == 0) }'
check "-p over IPv6 (::1) shows the same system peer" \
	bash -c "ip netns exec '$NS1' timeout 30 '$NTPQ' -pn ::1 | grep '^\\*127\\.0\\.0\\.1 ' >/dev/null"

ntpq "$NS1" -c as 127.0.0.1 >"$W/as.out"
say "as: $(tr '\n' '|' <"$W/as.out")"
check "as: two associations" test "$(grep -cE '^ +[0-9]+ +[0-9]+ ' "$W/as.out")" -eq 2
check "as: one sys.peer, reachable" grep -qE ' yes +yes +none +sys\.peer ' "$W/as.out"
check "as: one reject, not reachable" grep -qE ' yes +no +none +reject ' "$W/as.out"
peer_id=$(awk '/sys\.peer/ { print $2 }' "$W/as.out")

ntpq "$NS1" -c rv 127.0.0.1 >"$W/rv.out"
say "rv: $(tr '\n' ' ' <"$W/rv.out")"
rv=$(tr '\n' ' ' <"$W/rv.out")
check "rv: status line says sync_ntp" grep -q 'sync_ntp' "$W/rv.out"
check "rv: stratum=2" grep -q 'stratum=2,' <<<"$rv"
check "rv: refid=127.0.0.1" grep -q 'refid=127\.0\.0\.1,' <<<"$rv"
check "rv: leap=00" grep -q 'leap=00,' <<<"$rv"
check "rv: peer=$peer_id (the sys.peer of as)" grep -q "peer=$peer_id," <<<"$rv"
check "rv: sync_state=\"synchronized\"" grep -q 'sync_state="synchronized"' <<<"$rv"
check "rv: clock_kind=\"sim\"" grep -q 'clock_kind="sim"' <<<"$rv"

out=$(ntpq "$NS1" -c "rv 0 stratum,offset" 127.0.0.1)
check "rv 0 stratum,offset: exactly those ($out)" \
	bash -c "grep -qE '^stratum=2, offset=[-0-9.]+\$' <<<'$out'"
out=$(ntpq "$NS1" -c "rv 0 stratum,nosuchvariable" 127.0.0.1)
check "an unknown variable: UNKNOWNVAR ($out)" grep -q 'UNKNOWNVAR' <<<"$out"
out=$(ntpq "$NS1" -c "rv $peer_id" 127.0.0.1 | tr '\n' ' ')
say "rv $peer_id: $out"
check "rv of the sys.peer: sel_sys.peer, srcadr=127.0.0.1, srcport=1123, stratum=1" \
	bash -c "grep -q 'sel_sys.peer' <<<'$out' && grep -q 'srcadr=127.0.0.1,' <<<'$out' &&
		grep -q 'srcport=1123,' <<<'$out' && grep -q 'stratum=1,' <<<'$out'"

# A known client: 5 requests from 127.0.0.5, one port.
cport=$(free_port "$NS1")
ip netns exec "$NS1" "$PY" - "$cport" <<'PYEOF' || fail "the test's own NTP requests got no replies"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.5", int(sys.argv[1])))
s.settimeout(2)
got = 0
for i in range(5):
    s.sendto(struct.pack("!B47x", 0x23), ("127.0.0.1", 123))
    try:
        s.recv(1024)
        got += 1
    except socket.timeout:
        pass
    time.sleep(0.05)
sys.exit(0 if got == 5 else 1)
PYEOF
ntpq "$NS1" -n -c mrulist 127.0.0.1 >"$W/mru.out"
say "mrulist: $(tr '\n' '|' <"$W/mru.out")"
line=$(grep -E " $cport +127\.0\.0\.5\$" "$W/mru.out")
check "mrulist: 127.0.0.5 port $cport, mode 3, version 4, count 5 ($line)" \
	awk -v l="$line" 'BEGIN { n = split(l, f); exit !(n >= 9 && f[5] == 3 && f[6] == 4 && f[7] == 5) }'
check "mrulist: ntpq itself is listed with mode 6" grep -qE ' 6 2 +[0-9]+ ' "$W/mru.out"

ntpq "$NS1" -c sysstats 127.0.0.1 >"$W/sysstats.out"
say "sysstats: $(tr '\n' '|' <"$W/sysstats.out")"
processed=$(awk -F: '/^processed for time/ { split($2, f, " "); print f[1] }' "$W/sysstats.out")
check "sysstats: processed for time >= 5 ($processed)" test "${processed:-0}" -ge 5
c=$(counters relay) || fail "no counters from the relay"
say "relay: $c"
check "the daemon's own count agrees (ss_processed >= 5)" test "$(field ss_processed "$c")" -ge 5

# --- 2. check_ntp_peer -----------------------------------------------------------------------
out=$(run_in "$NS1" timeout 30 "$CHECK_NTP_PEER" -H 127.0.0.1 -w 0.5 -c 1 2>&1)
rc=$?
say "check_ntp_peer: $out (exit $rc)"
check "check_ntp_peer against the relay: OK (exit 0)" test "$rc" -eq 0
check "check_ntp_peer reads an offset" grep -q 'offset=' <<<"$out"
new_netns
NS2=$NS
start_relay unsync "$NS2" "listen 127.0.0.1 port 123" "server 127.0.0.3 port 1123 iburst"
sleep 1
out=$(run_in "$NS2" timeout 30 "$CHECK_NTP_PEER" -H 127.0.0.1 -w 0.5 -c 1 2>&1)
rc=$?
say "check_ntp_peer against an unsynchronized stratumd: $out (exit $rc)"
check "check_ntp_peer against an unsynchronized stratumd: not OK" test "$rc" -ne 0

# --- 3. access from another host --------------------------------------------------------------
new_veth_pair

access_case() { # access_case NAME EXPECT(answer|silent) [MRU(ok|refused)] [RESTRICT-LINE]
	local name=$1 expect=$2 mru=$3 rl=${4:-} out
	start_relay "$name" "$NSA" "listen 198.18.0.1 port 123" "local stratum 3" ${rl:+"$rl"}
	local deadline=$((SECONDS + 10))
	until ntp_client "$NSB" 198.18.0.1 123 --timeout 0.3 4:3 2>/dev/null | grep -q got=1; do
		[ "$SECONDS" -lt "$deadline" ] || { fail "$name: does not serve time"; return; }
		sleep 0.2
	done
	out=$(run_in "$NSB" timeout 30 "$NTPQ" -c "rv 0 stratum" 198.18.0.1 2>&1)
	if [ "$expect" = answer ]; then
		check "$name: another host's ntpq is answered ($out)" grep -q 'stratum=3' <<<"$out"
	else
		check "$name: another host's ntpq gets no answer ($out)" grep -q 'timed out' <<<"$out"
	fi
	if [ -n "$mru" ]; then
		out=$(run_in "$NSB" timeout 30 "$NTPQ" -c mrulist 198.18.0.1 2>&1)
		if [ "$mru" = refused ]; then
			check "$name: mrulist refused ($(tr '\n' ' ' <<<"$out"))" grep -q 'PERMISSION' <<<"$out"
		else
			check "$name: mrulist answered" grep -q 'remote address' <<<"$out"
		fi
	fi
	kill -TERM "${SRV_PID[$name]}"
	wait "${SRV_PID[$name]}"
	forget_pid "${SRV_PID[$name]}"
}
access_case default silent ""
access_case allowed answer ok "restrict 198.18.0.0/24"
access_case noquery silent "" "restrict 198.18.0.0/24 noquery"
access_case nomrulist answer refused "restrict 198.18.0.0/24 nomrulist"

finish
