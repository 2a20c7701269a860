#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Server benchmark: stratumd against chronyd and ntpnull (a do-nothing recvmmsg/sendmmsg
# responder: the kernel's ceiling), measured in the same run, rounds alternating A B C.
# All run in one private network namespace (so ntpload's srvdrops, read from /proc/net/udp,
# are the server's); each server is pinned to CPU 0, the load generator ntpload to CPU 1.
# Per server and round:
#   answered/s flat out     ntpload -d FLAT_SECS -W 1 -G 64
#   server CPU %            utime+stime delta (/proc/PID/stat, all threads) over that run, and
#                           answered per server CPU-second (rate / CPU share): the machine may be
#                           shared, and when something else runs on CPU 0 the server gets less
#                           than 100 % of it; "cpu0 %" is that CPU's total busy share meanwhile
#   loss at paced rates     ntpload -d PACED_SECS -G 64 -r RATE   (RATES, default 50k 100k 200k)
#   RSS idle / after load   VmRSS before the load, VmRSS and VmHWM after it (/proc/PID/status)
# Then a table of the medians and the ratios stratumd/ntpnull, stratumd/chronyd.
# Never a pass/fail; not part of `make test`. About 4 minutes with the defaults.
#   ROUNDS=3 FLAT_SECS=5 PACED_SECS=5 RATES="50000 100000 200000" bash bench/server.sh
# Needs root (netns, setpriv), chronyd, taskset, cc, and ../shared/tools/ntpload.
# Servers run under `setpriv --bounding-set=-sys_time`; chronyd with -x; stratumd `clock none`.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
NTPLOAD_SRC=${NTPLOAD_SRC:-$REPO/../shared/tools/ntpload}
OUT=$REPO/build/bench
STRATUMD=${STRATUMD:-$REPO/build/stratumd}
ROUNDS=${ROUNDS:-3}
FLAT_SECS=${FLAT_SECS:-5}
PACED_SECS=${PACED_SECS:-5}
RATES=${RATES:-50000 100000 200000}
SERVERS=${SERVERS:-stratumd chronyd ntpnull}
PORT=11123
DEADLINE=$((SECONDS + ${MAX_SECONDS:-900})) # hard bound on the whole run
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NOCLOCK=(setpriv --bounding-set=-sys_time)
HZ=$(getconf CLK_TCK)

die() { echo "bench/server.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, setpriv)"
for t in ip taskset setpriv cc chronyd; do command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh)"; done
[ -r "$NTPLOAD_SRC/ntpload.c" ] || die "ntpload sources not found in $NTPLOAD_SRC"
ncpu=$(nproc)
LOADCPU=1
[ "$ncpu" -ge 2 ] || { echo "WARNING: 1 CPU: server and load share CPU 0, numbers are not comparable"; LOADCPU=0; }

# ---- build ntpload and ntpnull (shared/ may be read-only: build into build/bench) ----------------
mkdir -p "$OUT"
for p in ntpload ntpnull; do
	if [ ! -x "$OUT/$p" ] || [ "$NTPLOAD_SRC/$p.c" -nt "$OUT/$p" ]; then
		cc -O2 -Wall -o "$OUT/$p" "$NTPLOAD_SRC/$p.c" -lm || die "cannot build $p"
	fi
done

W=$(mktemp -d /tmp/stratum-bench.XXXXXX)
NS=stratum-bench-$$-$RANDOM
SPID=""
cleanup() {
	local i
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		for i in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || die "ip netns add failed"
ip -n "$NS" link set lo up

if [ ! -x "$STRATUMD" ]; then
	echo "WARNING: $STRATUMD not built: stratumd is left out"
	SERVERS=${SERVERS//stratumd/}
fi

cat >"$W/stratumd.conf" <<CONF
listen 127.0.0.1 port $PORT
local stratum 1
clock none
workers 1
pidfile $W/stratumd.pid
CONF
cat >"$W/chronyd.conf" <<CONF
port $PORT
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 1
cmdport 0
pidfile $W/chronyd.pid
driftfile $W/chronyd.drift
CONF

start_server() { # start_server NAME: sets SPID, waits until it answers
	local name=$1 deadline=$((SECONDS + 10)) cmd
	case $name in
	stratumd) cmd=("${NOCLOCK[@]}" "$STRATUMD" -c "$W/stratumd.conf" -d) ;;
	chronyd) cmd=("${NOCLOCK[@]}" chronyd -x -d -u root -f "$W/chronyd.conf") ;;
	ntpnull) cmd=("${NOCLOCK[@]}" "$OUT/ntpnull" 127.0.0.1 "$PORT" 600) ;;
	esac
	ip netns exec "$NS" taskset -c 0 "${cmd[@]}" >"$W/$name.log" 2>&1 &
	SPID=$!
	while [ "$SECONDS" -lt "$deadline" ]; do
		kill -0 "$SPID" 2>/dev/null || { SPID=""; return 1; }
		ip netns exec "$NS" "$OUT/ntpload" -q 127.0.0.1 "$PORT" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
stop_server() {
	local i
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	for i in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}
cpu0_ticks() { awk '$1 == "cpu0" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
rfield() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
load() { # load ARGS...: one ntpload run pinned to the load CPU; prints its RESULT line
	timeout -k 5 $((FLAT_SECS + PACED_SECS + 60)) ip netns exec "$NS" taskset -c "$LOADCPU" \
		"$OUT/ntpload" "$@" 127.0.0.1 "$PORT" 2>>"$W/ntpload.err" | grep '^RESULT'
}

RES="$W/results.tsv" # server round metric value
: >"$RES"
echo "bench/server.sh: servers: $SERVERS; $ROUNDS rounds; flat ${FLAT_SECS}s (+1 s warm-up), paced ${PACED_SECS}s at $RATES/s"
echo "  $ncpu CPUs; server on CPU 0, ntpload on CPU $LOADCPU; netns $NS; $(uname -r)"
for round in $(seq "$ROUNDS"); do
	for s in $SERVERS; do
		[ "$SECONDS" -lt "$DEADLINE" ] || { echo "time budget exhausted, stopping"; break 2; }
		if ! start_server "$s"; then
			echo "round $round $s: did not start or answer; log: $(tail -n 3 "$W/$s.log" | tr '\n' ' ')"
			stop_server
			continue
		fi
		pid=$SPID
		sleep 0.5
		echo -e "$s\t$round\trss_idle\t$(status_kb "$pid" VmRSS)" >>"$RES"
		c0=$(cpu_ticks "$pid") t0=$(date +%s.%N) z0=$(cpu0_ticks)
		r=$(load -d "$FLAT_SECS" -W 1 -G 64)
		c1=$(cpu_ticks "$pid") t1=$(date +%s.%N) z1=$(cpu0_ticks)
		cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) / hz / (t1 - t0) * 100 }')
		cpu0=$(awk -v a="$z0" -v b="$z1" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.1f", (t > 0 ? (y[1] - x[1]) / t * 100 : 0) }')
		printf 'round %d %-8s flat:   rate=%s loss=%s srvdrops=%s clidrops=%s cpu=%s%% cpu0=%s%% p50=%sus\n' "$round" "$s" \
			"$(rfield rate "$r")" "$(rfield loss "$r")" "$(rfield srvdrops "$r")" "$(rfield clidrops "$r")" "$cpu" "$cpu0" "$(rfield lat_p50_us "$r")"
		{
			echo -e "$s\t$round\trate\t$(rfield rate "$r")"
			echo -e "$s\t$round\tcpu\t$cpu"
			echo -e "$s\t$round\tcpu0\t$cpu0"
			echo -e "$s\t$round\tclidrops\t$(rfield clidrops "$r")"
		} >>"$RES"
		for rate in $RATES; do
			r=$(load -d "$PACED_SECS" -G 64 -r "$rate")
			printf 'round %d %-8s %6s/s: recv=%s sent=%s loss=%s srvdrops=%s clidrops=%s p99=%sus\n' "$round" "$s" "$rate" \
				"$(rfield recv "$r")" "$(rfield sent "$r")" "$(rfield loss "$r")" "$(rfield srvdrops "$r")" "$(rfield clidrops "$r")" "$(rfield lat_p99_us "$r")"
			echo -e "$s\t$round\tloss$rate\t$(rfield loss "$r")" >>"$RES"
		done
		echo -e "$s\t$round\trss_after\t$(status_kb "$pid" VmRSS)" >>"$RES"
		echo -e "$s\t$round\thwm\t$(status_kb "$pid" VmHWM)" >>"$RES"
		stop_server
	done
done

"$PY" - "$RES" "$RATES" <<'PYEOF'
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
rates = sys.argv[2].split()
data = {}
for srv, rnd, metric, val in rows:
    try:
        v = float(val)
    except ValueError:
        continue
    data.setdefault(srv, {}).setdefault(metric, []).append(v)
# answered per server CPU-second, per run (rate and cpu of the same flat-out run)
for srv, d in data.items():
    d['eff'] = [r / (c / 100) for r, c in zip(d.get('rate', []), d.get('cpu', [])) if c > 0]
def med(s, m):
    v = data.get(s, {}).get(m)
    return statistics.median(v) if v else None
def fmt(v, kind):
    if v is None: return 'n/a'
    if kind == 'rate': return f'{v:,.0f}'
    if kind == 'pct': return f'{v:.1f}'
    if kind == 'loss': return f'{v * 100:.3f}%'
    return f'{v:,.0f}'
cols = [('answered/s', 'rate', 'rate'), ('ans/CPU-s', 'eff', 'rate'), ('cpu %', 'cpu', 'pct'),
        ('cpu0 %', 'cpu0', 'pct')] + \
       [(f'loss@{int(r) // 1000}k', f'loss{r}', 'loss') for r in rates] + \
       [('RSS idle kB', 'rss_idle', 'kb'), ('RSS after kB', 'rss_after', 'kb'), ('HWM kB', 'hwm', 'kb')]
servers = [s for s in ('stratumd', 'chronyd', 'ntpnull') if s in data]
n = {s: len(data[s].get('rate', [])) for s in servers}
print()
print('median over rounds (n = rounds measured)')
print(f'{"server":<10}' + ''.join(f'{c[0]:>14}' for c in cols) + f'{"n":>4}')
for s in servers:
    print(f'{s:<10}' + ''.join(f'{fmt(med(s, c[1]), c[2]):>14}' for c in cols) + f'{n[s]:>4}')
def ratio(a, b, m):
    x, y = med(a, m), med(b, m)
    return f'{x / y:.2f}x' if x is not None and y else 'n/a'
print()
print(f'stratumd/ntpnull answered/s: {ratio("stratumd", "ntpnull", "rate")}   (target >= 0.95x)')
print(f'stratumd/chronyd answered/s: {ratio("stratumd", "chronyd", "rate")}   (target >= 1.2x)')
print(f'stratumd/ntpnull answered per CPU-second: {ratio("stratumd", "ntpnull", "eff")}')
print(f'stratumd/chronyd answered per CPU-second: {ratio("stratumd", "chronyd", "eff")}')
print(f'stratumd/chronyd idle RSS:   {ratio("stratumd", "chronyd", "rss_idle")}   (target <= 1x)')
l200 = med('stratumd', 'loss200000')
if l200 is not None:
    print(f'stratumd loss at paced 200k/s: {l200 * 100:.3f}%   (target < 0.1%)')
low = [s for s in servers if (med(s, 'cpu') or 0) < 85]
if low:
    print('NOTE: flat out, %s got under 85%% of CPU 0 (median): something else ran there; '
          'answered per CPU-second is the fairer comparison' % ', '.join(low))
cd = [v for s in servers for v in data[s].get('clidrops', []) if v > 0]
if cd:
    print('WARNING: ntpload reported clidrops > 0 in some runs: the generator was a bottleneck there')
PYEOF
