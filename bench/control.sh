#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Control-path benchmark, in one private network namespace (ntpq only speaks to port 123):
#  1. Serving under load with and without the control path busy: stratumd (workers 1,
#     clock none, pinned to CPU 0) takes load from ntpload (CPU 1, -G 64), flat out and
#     paced at PACED/s (below capacity), in rounds alternating "quiet" and "mrulist":
#     during the latter `ntpq -c mrulist` reads the whole client list (CLIENTS sources,
#     from distinct addresses, seeded before the rounds) every second. Medians of
#     answered/s and their ratio (target: within 5 %), and how many rows each ntpq got
#     (flat out the receive queue overflows: ntpq's requests are lost with the rest).
#  2. Memory of the client list: RSS of a daemon with `mru maxdepth` MAXCLIENTS before and
#     after MAXCLIENTS distinct sources (one request each, 127.64.0.0/10) asked the time,
#     per client; chronyd (clientloglimit large enough) with the same sources beside it.
# Never a pass/fail; not part of `make test`. About 5 minutes with the defaults.
#   ROUNDS=5 FLAT_SECS=5 PACED=100000 CLIENTS=5000 MAXCLIENTS=100000 bash bench/control.sh
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
NTPLOAD_SRC=${NTPLOAD_SRC:-$REPO/../shared/tools/ntpload}
OUT=$REPO/build/bench
STRATUMD=${STRATUMD:-$REPO/build/stratumd}
NTPQ=${NTPQ:-$REPO/.tools/ntpsec-root/usr/bin/ntpq}
ROUNDS=${ROUNDS:-5}
FLAT_SECS=${FLAT_SECS:-5}
CLIENTS=${CLIENTS:-5000}
PACED=${PACED:-100000}
MAXCLIENTS=${MAXCLIENTS:-100000}
DEADLINE=$((SECONDS + ${MAX_SECONDS:-900}))
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NOCLOCK=(setpriv --bounding-set=-sys_time)

die() { echo "bench/control.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, setpriv)"
for t in ip taskset setpriv cc chronyd; do command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh)"; done
[ -x "$NTPQ" ] || die "ntpq not found at $NTPQ (scripts/install-deps.sh unpacks NTPsec)"
[ -x "$STRATUMD" ] || die "stratumd not built ($STRATUMD)"
LOADCPU=1
[ "$(nproc)" -ge 2 ] || { echo "WARNING: 1 CPU: server and load share CPU 0"; LOADCPU=0; }
mkdir -p "$OUT"
if [ ! -x "$OUT/ntpload" ] || [ "$NTPLOAD_SRC/ntpload.c" -nt "$OUT/ntpload" ]; then
	cc -O2 -Wall -o "$OUT/ntpload" "$NTPLOAD_SRC/ntpload.c" -lm || die "cannot build ntpload"
fi

W=$(mktemp -d /tmp/stratum-bench-control.XXXXXX)
NS=stratum-benchctl-$$-$RANDOM
PIDS=()
cleanup() {
	local p i
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || die "ip netns add failed"
ip -n "$NS" link set lo up
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
rfield() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# seed N FIRST_ADDR: one NTP request from each of N consecutive addresses (bounded)
seed() {
	ip netns exec "$NS" taskset -c "$LOADCPU" "$PY" - "$1" "$2" <<'PYEOF'
import ipaddress, socket, sys, time
n, first = int(sys.argv[1]), ipaddress.IPv4Address(sys.argv[2])
pkt = bytes([0x23]) + bytes(47)
deadline = time.time() + 300
for i in range(n):
    if time.time() > deadline:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((str(first + i), 0))
    s.sendto(pkt, ("127.0.0.1", 123))
    s.close()
    if i % 2000 == 1999:
        time.sleep(0.05)   # let the server drain its receive buffer
PYEOF
}

start() { # start NAME CONF: sets PID, waits until it answers on port 123
	local name=$1 i
	case $name in
	stratumd) ip netns exec "$NS" taskset -c 0 "${NOCLOCK[@]}" "$STRATUMD" -c "$2" -d >"$W/$name.log" 2>&1 & ;;
	chronyd) ip netns exec "$NS" taskset -c 0 "${NOCLOCK[@]}" chronyd -x -d -u root -f "$2" >"$W/$name.log" 2>&1 & ;;
	esac
	PID=$!
	PIDS+=("$PID")
	for i in $(seq 100); do
		ip netns exec "$NS" "$OUT/ntpload" -q 127.0.0.1 123 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$name did not answer; log: $(tail -n 5 "$W/$name.log")"
}
stop() {
	kill -TERM "$PID"
	wait "$PID" 2>/dev/null
	PIDS=()
}

# ---- 1. serving with and without mrulist ------------------------------------------------------
cat >"$W/stratumd.conf" <<EOF
listen 127.0.0.1 port 123
local stratum 1
clock none
workers 1
control socket none
mru maxdepth 16384
EOF
start stratumd "$W/stratumd.conf"
echo "bench/control.sh: $ROUNDS rounds x (flat, paced $PACED/s) x (quiet, mrulist every second), ${FLAT_SECS}s each; $CLIENTS clients in the list"
seed "$CLIENTS" 127.2.0.1
RES="$W/res.tsv"
: >"$RES"
for round in $(seq "$ROUNDS"); do
	for load in flat paced; do
		for mode in quiet mrulist; do
			[ "$SECONDS" -lt "$DEADLINE" ] || { echo "time budget exhausted"; break 3; }
			poller=""
			if [ "$mode" = mrulist ]; then
				(
					end=$((SECONDS + FLAT_SECS + 2))
					while [ "$SECONDS" -lt "$end" ]; do
						ip netns exec "$NS" taskset -c "$LOADCPU" timeout 10 "$NTPQ" -n -c mrulist \
							127.0.0.1 >"$W/mru.out" 2>&1
						echo "$(grep -cE '^ +[0-9]+ ' "$W/mru.out")" >>"$W/mru.$load"
						sleep 1
					done
				) &
				poller=$!
			fi
			args=(-d "$FLAT_SECS" -W 1 -G 64)
			[ "$load" = paced ] && args+=(-r "$PACED")
			r=$(timeout -k 5 60 ip netns exec "$NS" taskset -c "$LOADCPU" "$OUT/ntpload" "${args[@]}" \
				127.0.0.1 123 2>/dev/null | grep '^RESULT')
			[ -n "$poller" ] && wait "$poller"
			printf 'round %d %-6s %-8s rate=%s offered=%s loss=%s clidrops=%s\n' "$round" "$load" "$mode" \
				"$(rfield rate "$r")" "$(rfield offered "$r")" "$(rfield loss "$r")" "$(rfield clidrops "$r")"
			echo -e "$load-$mode\t$(rfield rate "$r")" >>"$RES"
		done
	done
done
for load in flat paced; do
	[ -s "$W/mru.$load" ] || continue
	echo "mrulist under $load load: $(wc -l <"$W/mru.$load") polls, rows per poll: $(sort -n "$W/mru.$load" | tr '\n' ' ')"
done
stop

# ---- 2. memory per client --------------------------------------------------------------------
cat >"$W/stratumd-mem.conf" <<EOF
listen 127.0.0.1 port 123
local stratum 1
clock none
workers 1
control socket none
mru maxdepth $MAXCLIENTS
EOF
cat >"$W/chronyd.conf" <<EOF
port 123
bindaddress 127.0.0.1
allow all
local stratum 1
cmdport 0
clientloglimit 1073741824
pidfile $W/chronyd.pid
driftfile $W/chronyd.drift
EOF
MEM="$W/mem.tsv"
: >"$MEM"
for s in stratumd chronyd; do
	[ "$SECONDS" -lt "$DEADLINE" ] || break
	if [ "$s" = stratumd ]; then start stratumd "$W/stratumd-mem.conf"; else start chronyd "$W/chronyd.conf"; fi
	sleep 0.5
	before=$(status_kb "$PID" VmRSS)
	t0=$SECONDS
	seed "$MAXCLIENTS" 127.64.0.1
	sleep 1
	after=$(status_kb "$PID" VmRSS)
	echo "$s: RSS ${before} kB idle, ${after} kB after $MAXCLIENTS clients ($((SECONDS - t0)) s to send)"
	echo -e "$s\t$before\t$after" >>"$MEM"
	stop
done

"$PY" - "$RES" "$MEM" "$MAXCLIENTS" <<'PYEOF'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    m, v = line.split('\t')
    try:
        rates.setdefault(m, []).append(float(v))
    except ValueError:
        pass
print()
for load in ('flat', 'paced'):
    q, b = (statistics.median(rates[k]) if rates.get(k) else None
            for k in (load + '-quiet', load + '-mrulist'))
    if q and b:
        print(f'{load:>5}: answered/s, median: quiet {q:,.0f}, with mrulist every second '
              f'{b:,.0f}: {b / q:.3f}x  ({(b / q - 1) * 100:+.1f} %; target within 5 %)')
n = int(sys.argv[3])
for line in open(sys.argv[2]):
    s, before, after = line.split('\t')
    per = (int(after) - int(before)) * 1024 / n
    print(f'{s}: {per:.0f} bytes per client over {n} clients '
          f'(RSS {int(before):,} -> {int(after):,} kB)')
PYEOF
