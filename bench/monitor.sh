#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Fleet-monitor benchmark: `stratum monitor sweep` of 10,000 and 100,000 simulated devices,
# and, as the reference in the same run, the same first 1,000 devices probed the way it is
# done today: a shell loop of NTPsec's `ntpdig -t 1 HOST`, one process per device.
# The devices are tests/monitor's stratum-responder answering for every 127.x.y.z on UDP 123
# in a private network namespace (ntpdig only speaks to port 123); the fleet is 127.2.0.0
# onward (127.2.x.y, then 127.3.x.y ...), imported by CSV into fresh SQLite files. One spec
# for every run: offsets spread over +-50 ms, 1 % silent devices (every 100th: they cost
# the whole 1 s timeout, 3 tries), 0.1 % kiss-o'-death RATE, 0.1 % unsynchronized.
# Per sweep (`ip netns exec NS /usr/bin/time stratum monitor --db DB sweep --reference
# none --json`, the default options, i.e. what users get: rate 10,000 requests/s):
#   wall s       the process's elapsed time (/usr/bin/time %e): start, database, probing,
#                writing; "sweep s" is the probing part as the --json summary reports it
#   devices/s    devices / wall s
#   CPU s, %     user + sys of the sweep process, and that over wall
#   peak RSS     /usr/bin/time %M
#   resp CPU s   the responder's CPU meanwhile (/proc/PID/stat): the simulated fleet's cost
#   ok ...       the results by status, from the --json summary
# Each fleet is swept twice (a new database, then one that holds a sweep already); the
# largest once more with --rate CEILING_RATE (default 50000) to show the ceiling. Database
# size per 10,000 results: the growth of the file (+ -wal, after PRAGMA
# wal_checkpoint(TRUNCATE)) from the end of sweep 1 to the end of sweep 2, per devices/10,000.
# The reference: the first REF_DEVICES (1,000) devices, a fresh database swept directly,
# and the ntpdig loop over the same devices, each timed the same way; the ratio against
# ours both extrapolated from the 10k sweeps' devices/s and measured directly.
# Never a pass/fail; not part of `make test`. About 2-3 minutes with the defaults (the ntpdig
# loop is most of it).
#   SIZES="10000 100000" CEILING_RATE=50000 REF_DEVICES=1000 bash bench/monitor.sh
# Needs root (netns, setpriv), ntpdig (scripts/install-deps.sh), GNU time (/usr/bin/time,
# Debian package `time`), and sqlite3 or /usr/bin/python3's sqlite3 module (the checkpoint).
# Everything runs under `setpriv --bounding-set=-sys_time`; nobody is asked to set the clock.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$REPO/$BUILD ;; esac
STRATUM=${STRATUM:-$B/stratum}
RESPONDER=${RESPONDER:-$B/tests/monitor/stratum-responder}
SIZES=${SIZES:-10000 100000}
CEILING_RATE=${CEILING_RATE:-50000}
REF_DEVICES=${REF_DEVICES:-1000}
SWEEP_TIMEOUT=${SWEEP_TIMEOUT:-300} # seconds, hard bound on one sweep
LOOP_TIMEOUT=${LOOP_TIMEOUT:-600}   # seconds, hard bound on the ntpdig loop
# (timeout --foreground: Ctrl-C reaches the command; at the bound the loop's shell is killed and
# the ntpdig in flight ends by its own -t 1)
DEADLINE=$((SECONDS + ${MAX_SECONDS:-1800}))
NOCLOCK=(setpriv --bounding-set=-sys_time)
PY=/usr/bin/python3
TIME=/usr/bin/time
HZ=$(getconf CLK_TCK)

die() { echo "bench/monitor.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, port 123, setpriv)"
for t in ip setpriv ntpdig timeout awk stat; do command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh)"; done
[ -x "$TIME" ] || die "$TIME not found (apt-get install time)"
[ -x "$PY" ] || die "$PY not found"
[ -x "$STRATUM" ] || die "$STRATUM not built (make build)"
[ -x "$RESPONDER" ] || die "$RESPONDER not built (make build; -Dtests=true)"
SQLITE=$(command -v sqlite3 || true)
[ -n "$SQLITE" ] || "$PY" -c 'import sqlite3' 2>/dev/null || die "neither sqlite3 nor $PY's sqlite3 module"
MAXDEV=$REF_DEVICES
for n in $SIZES; do
	{ [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ]; } || die "SIZES: '$n' is not a device count"
	[ "$n" -gt "$MAXDEV" ] && MAXDEV=$n
done
# 12 spec rules per 1,000 devices; the responder takes 4,096 rules; 127.2.0.0 - 127.255.255.255
[ "$MAXDEV" -le 330000 ] || die "at most 330,000 devices (the responder's 4,096 spec rules)"
LARGEST=$(tr ' ' '\n' <<<"$SIZES" | sort -n | tail -n 1)

W=$(mktemp -d /tmp/stratum-bench-monitor.XXXXXX)
NS=stratum-bench-monitor-$$-$RANDOM
RPID=""
cleanup() {
	if [ -n "$RPID" ]; then
		kill -TERM "$RPID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$RPID" 2>/dev/null
		wait "$RPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || die "ip netns add failed"
ip -n "$NS" link set lo up

# ---- the fleet: spec, device lists -------------------------------------------------------------
# device i is 127.(2 + i / 65536).(i / 256 % 256).(i % 256)
awk -v n="$MAXDEV" -v spec="$W/fleet.spec" -v list="$W/hosts.txt" '
	function addr(i) { return sprintf("127.%d.%d.%d", 2 + int(i / 65536), int(i / 256) % 256, i % 256) }
	BEGIN {
		print "# every device: an offset in [-50 ms, +50 ms] of its own" >spec
		print "* offset=spread:0.05" >spec
		for (b = 0; b < n; b += 100) if (b + 50 < n) print addr(b + 50), "silent" >spec
		for (b = 0; b < n; b += 1000) {
			if (b + 7 < n) print addr(b + 7), "kod=RATE" >spec
			if (b + 507 < n) print addr(b + 507), "unsync" >spec
		}
		for (i = 0; i < n; i++) print addr(i) >list
	}'
csv() { { echo host; head -n "$1" "$W/hosts.txt"; } >"$W/fleet$1.csv"; }

# ---- the responder -------------------------------------------------------------------------------
ip netns exec "$NS" "${NOCLOCK[@]}" "$RESPONDER" --port 123 --spec "$W/fleet.spec" \
	--pidfile "$W/responder.pid" >"$W/responder.log" 2>&1 &
RPID=$! # ip netns exec and setpriv exec: this is the responder
ok=0
for _ in $(seq 100); do
	kill -0 "$RPID" 2>/dev/null || { RPID=""; die "the responder exited: $(cat "$W/responder.log")"; }
	if [ -s "$W/responder.pid" ] &&
		ip netns exec "$NS" "${NOCLOCK[@]}" "$STRATUM" query -t 0.2 127.2.0.0 >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
[ "$ok" = 1 ] || die "the responder does not answer on 127.2.0.0:123 in $NS"
[ "$(cat "$W/responder.pid")" = "$RPID" ] || echo "NOTE: pidfile $(cat "$W/responder.pid") is not \$! $RPID"
ip netns exec "$NS" "${NOCLOCK[@]}" ntpdig -t 1 127.2.0.0 >"$W/ntpdig-check.out" 2>&1 ||
	die "ntpdig gets no answer from 127.2.0.0: $(cat "$W/ntpdig-check.out")"

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
db_size() { # db_size DB: bytes of the file and its -wal after a full checkpoint
	if [ -n "$SQLITE" ]; then
		"$SQLITE" "$1" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
	else
		"$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()' "$1"
	fi
	local s w=0
	s=$(stat -c %s "$1")
	[ -f "$1-wal" ] && w=$(stat -c %s "$1-wal")
	echo $((s + w))
}

RES="$W/results.tsv" # label devices wall user sys rss_kb sweep_s ok unreach kod unsync bad resp_cpu_s rc
: >"$RES"
sweep() { # sweep LABEL DB [SWEEP OPTIONS...]: one timed sweep, a row in $RES
	local label=$1 db=$2 c0 c1 rc t j
	shift 2
	[ "$SECONDS" -lt "$DEADLINE" ] || { echo "time budget exhausted: $label skipped"; return 1; }
	c0=$(cpu_ticks "$RPID")
	ip netns exec "$NS" "${NOCLOCK[@]}" "$TIME" -o "$W/time.out" -f '%e %U %S %M' \
		timeout --foreground -k 5 "$SWEEP_TIMEOUT" "$STRATUM" monitor --db "$db" sweep --reference none --json "$@" \
		>"$W/sweep.json" 2>"$W/sweep.err"
	rc=$?
	c1=$(cpu_ticks "$RPID")
	t=$(tail -n 1 "$W/time.out")
	j=$("$PY" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    s = d["by_status"]
    print(d["devices"], d["wall_seconds"], s["ok"], s["unreachable"], s["kod"], s["unsynchronized"], s["bad_response"])
except Exception:
    print("0 0 0 0 0 0 0")' "$W/sweep.json")
	read -r jn js jok jun jkod jus jbad <<<"$j"
	read -r te tu ts tm <<<"$t"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$jn" "$te" "$tu" "$ts" "$tm" "$js" \
		"$jok" "$jun" "$jkod" "$jus" "$jbad" "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')" "$rc" >>"$RES"
	awk -v l="$label" -v n="$jn" -v e="$te" -v u="$tu" -v s="$ts" -v rc="$rc" \
		'BEGIN { printf "  %-30s %7d devices  %6.2f s wall  %9.0f devices/s  CPU %.2f s%s\n", l, n, e, (e > 0 ? n / e : 0), u + s, (rc != 0 ? "  EXIT " rc : "") }'
	if [ "$rc" != 0 ]; then
		echo "    stderr: $(tail -n 3 "$W/sweep.err" | tr '\n' ' ')"
	fi
	return 0
}

echo "stratum monitor sweep against a shell loop of ntpdig; fleet: stratum-responder on 127.x.y.z:123"
echo "in netns $NS; spec: offset spread +-50 ms, 1 % silent, 0.1 % KoD RATE, 0.1 % unsync"
echo "machine: $(nproc) CPUs, $(uname -sr); $("$STRATUM" --version 2>&1 | head -n 1); ntpdig $(ntpdig --version 2>&1 | head -n 1 | awk '{print $NF}')"
echo

declare -A DB_IMPORT=() DB_S1=() DB_S2=() IMPORT_S=()
for n in $SIZES; do
	csv "$n"
	db="$W/fleet$n.db"
	t0=$(date +%s%N)
	"$STRATUM" monitor --db "$db" import "$W/fleet$n.csv" >/dev/null || die "import of $n devices failed"
	t1=$(date +%s%N)
	IMPORT_S[$n]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	DB_IMPORT[$n]=$(db_size "$db")
	echo "$n devices imported in ${IMPORT_S[$n]} s"
	sweep "$n sweep 1" "$db" && DB_S1[$n]=$(db_size "$db")
	sweep "$n sweep 2" "$db" && DB_S2[$n]=$(db_size "$db")
	if [ "$n" = "$LARGEST" ]; then
		sweep "$n sweep 3 --rate $CEILING_RATE" "$db" --rate "$CEILING_RATE"
	fi
done
csv "$REF_DEVICES"
"$STRATUM" monitor --db "$W/ref.db" import "$W/fleet$REF_DEVICES.csv" >/dev/null || die "import of $REF_DEVICES devices failed"
sweep "$REF_DEVICES sweep (direct)" "$W/ref.db"

# ---- the reference: a shell loop of ntpdig over the same first REF_DEVICES devices ---------------
head -n "$REF_DEVICES" "$W/hosts.txt" >"$W/ref-hosts.txt"
# shellcheck disable=SC2016 # expanded by the loop's own shell
# (the count after every device: if the bound stops the loop, what it did is still known)
LOOP='n=0 ok=0
for h in $(head -n "$1" "$2"); do
	ntpdig -t 1 "$h" >/dev/null 2>&1 && ok=$((ok + 1))
	n=$((n + 1))
	echo "$n $ok" >"$3"
done
echo "$n $ok done" >"$3"'
echo "  ntpdig loop over the first $REF_DEVICES devices (ntpdig -t 1 HOST, one process each) ..."
LOOP_LINE=""
if [ "$SECONDS" -lt "$DEADLINE" ]; then
	: >"$W/loop.out"
	c0=$(cpu_ticks "$RPID")
	ip netns exec "$NS" "${NOCLOCK[@]}" "$TIME" -o "$W/loop.time" -f '%e %U %S %M' \
		timeout --foreground -k 5 "$LOOP_TIMEOUT" bash -c "$LOOP" loop "$REF_DEVICES" "$W/ref-hosts.txt" "$W/loop.out"
	lrc=$?
	c1=$(cpu_ticks "$RPID")
	read -r le lu ls lm <<<"$(tail -n 1 "$W/loop.time")"
	read -r ln lok ldone <<<"$(cat "$W/loop.out")"
	[ -n "${ln:-}" ] || { ln=0; lok=0; }
	if [ "${ldone:-}" != "done" ]; then
		ldone=stopped
		echo "  WARNING: the loop did not finish within $LOOP_TIMEOUT s (exit $lrc): $ln of $REF_DEVICES devices"
	fi
	LOOP_LINE="$ln $lok $le $lu $ls $lm $(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }') $ldone"
else
	echo "  time budget exhausted: the ntpdig loop is skipped"
fi

# ---- the tables ------------------------------------------------------------------------------------
echo
printf '%-30s %8s %7s %7s %10s %7s %6s %8s %6s %7s %7s %5s %6s %4s\n' run devices "wall s" "sweep s" devices/s \
	"CPU s" "CPU %" "RSS MB" "resp s" ok unreach kod unsync bad
awk -F '\t' '{
	cpu = $4 + $5
	printf "%-30s %8d %7.2f %7.3f %10.0f %7.2f %6.0f %8.1f %6.2f %7d %7d %5d %6d %4d%s\n", $1, $2, $3, $7,
		($3 > 0 ? $2 / $3 : 0), cpu, ($3 > 0 ? cpu / $3 * 100 : 0), $6 / 1024, $13, $8, $9, $10, $11, $12,
		($14 != 0 ? "  (exit " $14 ")" : "")
}' "$RES"
echo "(wall s: the process, /usr/bin/time; sweep s: the probing, from --json; resp s: the responder's CPU)"

echo
printf '%-8s %16s %16s %16s %20s\n' devices "db after import" "after sweep 1" "after sweep 2" "per 10,000 results"
for n in $SIZES; do
	awk -v n="$n" -v i="${DB_IMPORT[$n]:-0}" -v a="${DB_S1[$n]:-0}" -v b="${DB_S2[$n]:-0}" \
		'BEGIN { printf "%-8d %13.2f MB %13.2f MB %13.2f MB %17.2f MB\n", n, i / 1048576, a / 1048576, b / 1048576,
			(a > 0 && b > 0 ? (b - a) / (n / 10000) / 1048576 : 0) }'
done
echo "(file + -wal after PRAGMA wal_checkpoint(TRUNCATE); per 10,000 results: sweep 2's growth)"

echo
if [ -n "$LOOP_LINE" ]; then
	read -r ln lok le lu ls lm lresp ldone <<<"$LOOP_LINE"
	awk -v n="$ln" -v ok="$lok" -v e="$le" -v u="$lu" -v s="$ls" -v r="$lresp" -v done="$ldone" -v refn="$REF_DEVICES" \
		'BEGIN { printf "ntpdig loop: %d devices (%d exit 0), %.2f s wall, %.1f devices/s, CPU %.2f s (%.1f ms per device), responder %.2f s\n",
			n, ok, e, (e > 0 ? n / e : 0), u + s, (n > 0 ? (u + s) / n * 1000 : 0), r
			if (done != "done") printf "  (stopped by LOOP_TIMEOUT after %d of %d devices: the ratios below extrapolate its rate)\n", n, refn }'
	# ours: the 10k sweeps' devices/s (mean of the sweeps of the first size), and the direct sweep
	first=$(awk '{ print $1; exit }' <<<"$SIZES")
	awk -F '\t' -v first="$first" -v refn="$REF_DEVICES" -v n="$ln" -v e="$le" '
		$1 ~ ("^" first " sweep [12]$") && $3 > 0 { r += $2 / $3; k++ }
		$1 ~ ("^" refn " sweep \\(direct\\)$") { dw = $3; dn = $2 }
		END {
			if (n == 0 || e == 0) exit
			lw = e / n * refn
			if (k > 0) {
				ow = refn / (r / k)
				printf "ours, %d devices extrapolated from the %d sweeps (%.0f devices/s): %.3f s   ratio ntpdig loop / ours %.0fx   (target >= 100x)\n", refn, first, r / k, ow, lw / ow
			}
			if (dw > 0)
				printf "ours, a direct %d-device sweep: %.2f s wall                             ratio ntpdig loop / ours %.0fx   (target >= 100x)\n", dn, dw, lw / dw
		}' "$RES"
fi
echo
awk -F '\t' -v first="$(awk '{ print $1; exit }' <<<"$SIZES")" -v largest="$LARGEST" '
	$1 ~ /^[0-9]+ sweep [12]$/ { split($1, p, " "); w[p[1]] = w[p[1]] (w[p[1]] ? ", " : "") sprintf("%.2f s", $3) }
	{ if ($6 > rss) rss = $6 }
	END {
		if (first == 10000 && w[10000] != "") printf "10,000 devices: %s wall   (target < 3 s)\n", w[10000]
		if (w[100000] != "") printf "100,000 devices: %s wall   (target < 30 s)\n", w[100000]
		printf "peak RSS, largest of all sweeps: %.1f MB   (target < 100 MB)\n", rss / 1024
	}' "$RES"
if awk -F '\t' '$14 != 0 { f = 1 } END { exit !f }' "$RES"; then
	echo "WARNING: some sweeps exited non-zero: the numbers include them"
fi
