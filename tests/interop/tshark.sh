#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: Wireshark's NTP dissector (tshark) decodes stratumd's replies without complaint.
# In a private network namespace, tshark captures lo while a python3 client sends NTPv1 mode 0,
# v2, v3 and v4 mode 3 and a v4 mode 1 (symmetric active) request, and chronyd -Q queries too.
# Every reply must decode with the request's version, mode 4 (mode 2 for the mode 1
# request), LI 0 and the configured stratum; the capture must have no malformed packet and no
# expert-info warning or error.
. "$(dirname "$0")/lib.sh"

need_root
need_tools ip setpriv tshark ss chronyd
need_server
new_netns

STRATUM=4
port=$(free_port "$NS")
mark=$(free_port "$NS")      # marker port: start/end probes that show the capture is live/flushed
while [ "$mark" = "$port" ]; do mark=$(free_port "$NS"); done
start_server srv "$NS" "$port" "$STRATUM" 1

# -P -l: print a summary line per packet while writing the file, to see the markers arrive
ip netns exec "$NS" tshark -l -P -n -i lo -f "udp port $port or udp port $mark" -w "$W/cap.pcap" \
	-a duration:90 >"$W/tshark-live.log" 2>"$W/tshark-err.log" &
tpid=$!
_pids+=("$tpid")

send_mark() { # send_mark LEN: one UDP datagram of LEN bytes to the marker port
	ip netns exec "$NS" "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"m" * int(sys.argv[1]), ("127.0.0.1", int(sys.argv[2])))' "$1" "$mark"
}
wait_mark() { # wait_mark LEN: resend until tshark shows a LEN-byte marker (20 s deadline)
	local deadline=$((SECONDS + 20))
	while [ "$SECONDS" -lt "$deadline" ]; do
		kill -0 "$tpid" 2>/dev/null || die "tshark exited: $(cat "$W/tshark-err.log")"
		send_mark "$1"
		sleep 0.1
		grep -qE "[^0-9]$mark Len=$1( |$)" "$W/tshark-live.log" && return 0
	done
	die "tshark never showed the ${1}-byte marker"
}
wait_mark 5

ntp_client "$NS" 127.0.0.1 "$port" 1:0 2:3 3:3 4:3 4:1 >"$W/client.out"
rc=$?
cat "$W/client.out"
check "python client: every request answered with its origin echoed (status $rc)" test "$rc" -eq 0
ip netns exec "$NS" "${NOCLOCK[@]}" chronyd -Q -t 5 "server 127.0.0.1 port $port iburst maxsamples 1" \
	>"$W/chronyd-Q.log" 2>&1 </dev/null
check "chronyd -Q got a sample" grep -q 'System clock wrong by' "$W/chronyd-Q.log"

wait_mark 7
kill -INT "$tpid"
wait "$tpid"
forget_pid "$tpid"

D=(-n -d "udp.port==$port,ntp")
tshark -r "$W/cap.pcap" "${D[@]}" -Y "udp.port==$port" 2>/dev/null >"$W/summary.txt"
say "capture: $(wc -l <"$W/summary.txt") NTP packets"
cat "$W/summary.txt"
# per reply: client port, LI, VN, mode, stratum
tshark -r "$W/cap.pcap" "${D[@]}" -Y "udp.srcport==$port" -T fields -E separator=' ' \
	-e udp.dstport -e ntp.flags.li -e ntp.flags.vn -e ntp.flags.mode -e ntp.stratum \
	2>/dev/null >"$W/replies.txt"
nreq=$(tshark -r "$W/cap.pcap" "${D[@]}" -Y "udp.dstport==$port" 2>/dev/null | wc -l)

while read -r line; do
	sport=$(field sport "$line") vn=$(field req_vn "$line") mode=$(field req_mode "$line")
	want_mode=4
	[ "$mode" = 1 ] && want_mode=2
	got=$(awk -v p="$sport" '$1 == p { print $2, $3, $4, $5 }' "$W/replies.txt")
	check "v$vn mode $mode request: tshark decodes reply as LI 0, v$vn, mode $want_mode, stratum $STRATUM (got '${got:-none}')" \
		test "$got" = "0 $vn $want_mode $STRATUM"
done <"$W/client.out"

others=$(awk -v ports=" $(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^sport=/) printf "%s ", substr($i, 7) }' "$W/client.out")" \
	'index(ports, " " $1 " ") == 0' "$W/replies.txt")
say "replies to chronyd: ${others:-none}"
check "chronyd's requests answered as v4 mode 4 stratum $STRATUM" \
	test -n "$others" -a -z "$(awk -v s="$STRATUM" '!($2 == 0 && $3 == 4 && $4 == 4 && $5 == s)' <<<"$others")"
check "as many replies ($(wc -l <"$W/replies.txt")) as requests ($nreq)" test "$(wc -l <"$W/replies.txt")" -eq "$nreq"

tshark -r "$W/cap.pcap" "${D[@]}" -V -Y "udp.port==$port" >"$W/decode.txt" 2>/dev/null
tshark -r "$W/cap.pcap" "${D[@]}" -q -z "expert,warn,udp.port==$port" >"$W/expert.txt" 2>/dev/null
check "no 'Malformed' in the full decode" test "$(grep -c -i malformed "$W/decode.txt")" -eq 0
check "no expert-info warning or error in the full decode" \
	test "$(grep -c -E 'Expert Info \((Warning|Error)' "$W/decode.txt")" -eq 0
if grep -qE '^(Errors|Warns) \(' "$W/expert.txt"; then
	fail "tshark -z expert lists warnings or errors:"
	cat "$W/expert.txt"
else
	pass "tshark -z expert lists no warning or error"
fi

if is_stratumd; then
	c=$(counters srv)
	say "${c:-no counters line after SIGUSR1}"
	# v1, v2, v3 are older versions; v4 mode 3, v4 mode 1 and chronyd's requests are this version
	check "ss_oldver=$(field ss_oldver "$c") >= 3" test "$(field ss_oldver "$c")" -ge 3 2>/dev/null
	check "ss_thisver=$(field ss_thisver "$c") >= 3" test "$(field ss_thisver "$c")" -ge 3 2>/dev/null
fi
stop_server srv

finish
