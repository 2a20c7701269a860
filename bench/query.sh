#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Client benchmark: `stratum query -n 1` against NTPsec's `ntpdig`, one query per process run,
# against the same local server, measured in the same run with the blocks alternating
# (A B A B ...). ntpdig only speaks to port 123, so the server (stratumd, `local stratum 2`,
# `clock none`) listens on 127.0.0.1:123 in a private network namespace, and both clients run
# inside that namespace.
# Per client and block (BLOCK runs of the client back to back, from one shell):
#   wall ms/query   the block's elapsed time (date +%s%N) / BLOCK, process start-up included
#   CPU ms/query    user+sys of the block's children (bash `times`) / BLOCK
# Then a table over all blocks and the ratios ntpdig/stratum. Never a pass/fail.
#   QUERIES=1000 BLOCKS=2 bash bench/query.sh        (QUERIES per client, in BLOCKS blocks each)
# Needs root (netns, setpriv) and ntpdig (scripts/install-deps.sh). Everything runs under
# `setpriv --bounding-set=-sys_time`; neither client is ever asked to set the clock.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
STRATUMD=${STRATUMD:-$REPO/build/stratumd}
STRATUM=${STRATUM:-$REPO/build/stratum}
QUERIES=${QUERIES:-1000}
BLOCKS=${BLOCKS:-2}
NOCLOCK=(setpriv --bounding-set=-sys_time)
BLOCK_TIMEOUT=${BLOCK_TIMEOUT:-600}   # seconds, hard bound on one block

die() { echo "bench/query.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespace, setpriv)"
for t in ip setpriv ntpdig timeout; do command -v "$t" >/dev/null || die "'$t' not found (scripts/install-deps.sh)"; done
[ -x "$STRATUMD" ] || die "$STRATUMD not built (make build)"
[ -x "$STRATUM" ] || die "$STRATUM not built (make build)"
[ "$QUERIES" -ge "$BLOCKS" ] && [ "$BLOCKS" -ge 1 ] || die "QUERIES must be >= BLOCKS >= 1"
BLOCK=$((QUERIES / BLOCKS))
HZ=$(getconf CLK_TCK)

W=$(mktemp -d /tmp/stratum-bench-query.XXXXXX)
NS=stratum-bench-query-$$-$RANDOM
SPID=""
cleanup() {
	local i
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		for i in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || die "ip netns add failed"
ip -n "$NS" link set lo up

cat >"$W/stratumd.conf" <<CONF
listen 127.0.0.1 port 123
local stratum 2
clock none
workers 1
CONF
ip netns exec "$NS" "${NOCLOCK[@]}" "$STRATUMD" -c "$W/stratumd.conf" -d >"$W/stratumd.log" 2>&1 &
SPID=$!
ok=0
for _ in $(seq 100); do
	kill -0 "$SPID" 2>/dev/null || die "stratumd exited: $(cat "$W/stratumd.log")"
	if ip netns exec "$NS" "${NOCLOCK[@]}" "$STRATUM" query -t 0.2 127.0.0.1 >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.1
done
[ "$ok" = 1 ] || die "stratumd does not answer on 127.0.0.1:123 in $NS"
ip netns exec "$NS" "${NOCLOCK[@]}" ntpdig -t 2 127.0.0.1 >"$W/ntpdig-check.out" 2>&1 ||
	die "ntpdig gets no answer: $(cat "$W/ntpdig-check.out")"

# The block runner, run inside the namespace under setpriv: N runs of the command; prints
# "wall_ns fails child_user_ticks child_sys_ticks" (ticks from /proc/self/stat of the shell:
# cutime and cstime, fields 16 and 17, i.e. the reaped children's CPU).
RUNNER='n=$1; shift
fails=0
t0=$(date +%s%N)
for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 || fails=$((fails + 1)); done
t1=$(date +%s%N)
read -r -a st </proc/$$/stat
echo "$((t1 - t0)) $fails ${st[15]} ${st[16]}"'

declare -A CMD
CMD[stratum]="$STRATUM query -n 1 127.0.0.1"
CMD[ntpdig]="ntpdig 127.0.0.1"
CLIENTS=(stratum ntpdig)
declare -A WALL=() CPU=() FAILS=() RUNS=()
for c in "${CLIENTS[@]}"; do WALL[$c]=0; CPU[$c]=0; FAILS[$c]=0; RUNS[$c]=0; done

echo "stratum query vs ntpdig: $QUERIES queries each in $BLOCKS blocks of $BLOCK, alternating;"
echo "server: stratumd (local stratum 2, clock none) on 127.0.0.1:123 in netns $NS"
echo "machine: $(nproc) CPUs, $(uname -sr); ntpdig $(ntpdig --version 2>&1 | head -n 1 | awk '{print $NF}')"
printf '%-8s %5s %7s %7s %13s %12s\n' block client runs failed "wall ms/q" "CPU ms/q"
for b in $(seq "$BLOCKS"); do
	for c in "${CLIENTS[@]}"; do
		# shellcheck disable=SC2086 # CMD is a word list on purpose
		line=$(timeout "$BLOCK_TIMEOUT" ip netns exec "$NS" "${NOCLOCK[@]}" bash -c "$RUNNER" runner "$BLOCK" ${CMD[$c]})
		[ -n "$line" ] || die "block $b of $c did not finish within $BLOCK_TIMEOUT s"
		read -r wall_ns fails ut st <<<"$line"
		cpu_ns=$(( (ut + st) * 1000000000 / HZ ))
		WALL[$c]=$((WALL[$c] + wall_ns)); CPU[$c]=$((CPU[$c] + cpu_ns))
		FAILS[$c]=$((FAILS[$c] + fails)); RUNS[$c]=$((RUNS[$c] + BLOCK))
		awk -v b="$b" -v c="$c" -v n="$BLOCK" -v f="$fails" -v w="$wall_ns" -v u="$cpu_ns" \
			'BEGIN { printf "%-8s %5s %7d %7d %13.3f %12.3f\n", b, c, n, f, w / n / 1e6, u / n / 1e6 }'
	done
done
echo
echo "all blocks:"
printf '%-24s %7s %7s %13s %12s\n' client runs failed "wall ms/q" "CPU ms/q"
for c in "${CLIENTS[@]}"; do
	awk -v c="${CMD[$c]%% 127.0.0.1}" -v n="${RUNS[$c]}" -v f="${FAILS[$c]}" -v w="${WALL[$c]}" -v u="${CPU[$c]}" \
		'BEGIN { sub(".*/", "", c); printf "%-24s %7d %7d %13.3f %12.3f\n", c, n, f, w / n / 1e6, u / n / 1e6 }'
done
awk -v ws="${WALL[stratum]}" -v wn="${WALL[ntpdig]}" -v cs="${CPU[stratum]}" -v cn="${CPU[ntpdig]}" \
	-v ns="${RUNS[stratum]}" -v nn="${RUNS[ntpdig]}" \
	'BEGIN { printf "%-24s %7s %7s %12.1fx %11.1fx\n", "ratio ntpdig / stratum", "", "",
		(wn / nn) / (ws / ns), (cs > 0 ? (cn / nn) / (cs / ns) : 0) }'
if [ "${FAILS[stratum]}" -gt 0 ] || [ "${FAILS[ntpdig]}" -gt 0 ]; then
	echo "WARNING: some runs failed (non-zero exit): the numbers include them"
fi
