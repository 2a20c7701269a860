#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: chrony's one-shot client (`chronyd -Q`, measures and never sets the clock) against
# stratumd on a high port of 127.0.0.1, with workers 0 (single poll loop), 1 and 2.
# Each run must print "System clock wrong by X seconds (ignored)" with |X| < 0.1, and the
# daemon's SIGUSR1 counters must show the requests it received.
. "$(dirname "$0")/lib.sh"

need_root
need_tools setpriv chronyd ss
need_server

for workers in 0 1 2; do
	name=w$workers
	port=$(free_port)
	start_server "$name" "" "$port" 2 "$workers"
	out="$W/chronyd-Q-$name.log"
	"${NOCLOCK[@]}" chronyd -Q -t 5 "server 127.0.0.1 port $port iburst maxsamples 1" >"$out" 2>&1 </dev/null
	rc=$?
	line=$(grep -o 'System clock wrong by [-+0-9.e]* seconds (ignored)' "$out" | head -n 1)
	say "workers $workers: chronyd -Q status $rc: ${line:-$(tail -n 1 "$out")}"
	check "workers $workers: chronyd -Q exits 0 (status $rc)" test "$rc" -eq 0
	check "workers $workers: chronyd -Q prints 'System clock wrong by X seconds (ignored)'" test -n "$line"
	x=$(awk '{ print $5 }' <<<"$line")
	check "workers $workers: |$x| < 0.1 s" abs_lt "$x" 0.1
	if is_stratumd; then
		c=$(counters "$name")
		say "workers $workers: ${c:-no counters line after SIGUSR1}"
		check "workers $workers: SIGUSR1 logs 'PROTO: counters ...'" test -n "$c"
		rx=$(field ss_received "$c")
		# the readiness probe(s) plus at least one request from chronyd
		check "workers $workers: ss_received=${rx:-?} >= 2" test "${rx:-0}" -ge 2
		check "workers $workers: ss_badformat=$(field ss_badformat "$c") is 0" test "$(field ss_badformat "$c")" = 0
	fi
	stop_server "$name"
done

finish
