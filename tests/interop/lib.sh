# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# Shared helpers for the interop tests (sourced by each test, never run on its own).
#
# Every test gets a private scratch folder ($W) and an EXIT trap that stops, by PID, every
# process it started, deletes every network namespace it created and prints the logs of a
# failed run. Daemons always run under `setpriv --bounding-set=-sys_time`, so nothing here can
# ever change this machine's clock.
#
# Environment:
#   STRATUMD          the daemon under test (meson passes the built target)
#   SRCDIR            the source tree
#   CI=true           a missing tool or missing root is a failure, never a skip
#   INTEROP_STANDIN=chronyd   run the same checks against chronyd standing in for stratumd
#                     (harness development only; stratumd-specific checks are skipped)
#   KEEP_WORK=1       keep the scratch folder

set -u
IT_NAME=$(basename "$0" .sh)
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STRATUMD=${STRATUMD:-$SRCDIR/build/stratumd}
STANDIN=${INTEROP_STANDIN:-}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NOCLOCK=(setpriv --bounding-set=-sys_time)

W=$(mktemp -d "/tmp/stratum-it-$IT_NAME.XXXXXX")
declare -A SRV_PID=() SRV_LOG=()
_pids=()
_netns=()
_fails=0

say() { printf '%s: %s\n' "$IT_NAME" "$*"; }
# fail: record a failed check and go on; die: stop the test now.
fail() { say "FAIL: $*"; _fails=$((_fails + 1)); }
die() { say "FAIL: $*"; exit 1; }
pass() { say "ok: $*"; }
check() { # check DESCRIPTION COMMAND... : pass if the command succeeds
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# finish: the last line of every test; exit status = any failed check
finish() {
	if [ "$_fails" -gt 0 ]; then say "$_fails check(s) failed"; exit 1; fi
	say "all checks passed"; exit 0
}

_cleanup() {
	local rc=$? p n i
	trap - EXIT INT TERM HUP
	for p in "${_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${_pids[@]}"; do
		for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$p" 2>/dev/null && { say "pid $p ignored SIGTERM, killing it"; kill -KILL "$p" 2>/dev/null; }
		wait "$p" 2>/dev/null
	done
	for n in "${_netns[@]}"; do ip netns del "$n" 2>/dev/null; done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for f in "$W"/*.log; do
			[ -s "$f" ] || continue
			echo "----- $(basename "$f") (last 40 lines) -----"
			tail -n 40 "$f"
		done
	fi
	if [ -n "${KEEP_WORK:-}" ]; then say "scratch kept in $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# skip_or_fail MESSAGE: exit 77 (meson's "skipped") outside CI, fail under CI=true.
skip_or_fail() {
	if [ "${CI:-}" = true ]; then die "$* (a missing prerequisite is a failure under CI=true)"; fi
	say "SKIP: $*"
	exit 77
}
need_root() { [ "$(id -u)" = 0 ] || skip_or_fail "needs root (network namespaces, setpriv)"; }
need_tools() {
	local t
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip_or_fail "tool '$t' not found"; done
}
need_server() {
	if [ "$STANDIN" = chronyd ]; then
		need_tools chronyd
		say "NOTE: running against chronyd standing in for stratumd"
	elif [ "$STANDIN" != "" ]; then
		die "unknown INTEROP_STANDIN=$STANDIN"
	else
		[ -x "$STRATUMD" ] || die "stratumd not found at $STRATUMD"
	fi
}
is_stratumd() { [ -z "$STANDIN" ]; }

# run_in NS CMD...: run CMD inside namespace NS ("" = this namespace)
run_in() {
	local ns=$1; shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# new_netns: create a uniquely named namespace with lo up; its name lands in $NS
new_netns() {
	NS="stratum-it-${IT_NAME}-$$-${RANDOM}"
	ip netns add "$NS" || die "ip netns add $NS failed"
	_netns+=("$NS")
	ip -n "$NS" link set lo up || die "cannot bring lo up in $NS"
}

# new_veth_pair: two namespaces joined by a veth pair, 198.18.0.1/24 in $NSA and
# 198.18.0.2/24 in $NSB (the benchmarking range: it never leaves the pair)
new_veth_pair() {
	local va vb
	new_netns
	NSA=$NS
	new_netns
	NSB=$NS
	va="st$$a${RANDOM}" vb="st$$b${RANDOM}"
	va=${va:0:15} vb=${vb:0:15}
	ip link add "$va" netns "$NSA" type veth peer name "$vb" netns "$NSB" || die "veth failed"
	ip -n "$NSA" addr add 198.18.0.1/24 dev "$va" && ip -n "$NSA" link set "$va" up
	ip -n "$NSB" addr add 198.18.0.2/24 dev "$vb" && ip -n "$NSB" link set "$vb" up
}

# free_port [NS]: a UDP port nobody has bound on 127.0.0.1, below the kernel's ephemeral range
free_port() {
	local ns=${1:-} p i
	for i in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(run_in "$ns" ss -Hlun "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
	done
	die "no free UDP port found"
}

# The NTP client used for readiness checks and hand-made requests. Arguments:
#   HOST PORT [--timeout S] SPEC...   where SPEC is VERSION:MODE (e.g. 4:3, 1:0, 4:1)
# For each request one line:  req_vn=4 req_mode=3 sport=N got=1 li=0 vn=4 mode=4 stratum=3
#   refid=... org_ok=1 offset=... len=48   (got=0 on timeout). Exit 0 if every request got
# a reply whose origin echoes our transmit timestamp.
NTPCLIENT_PY=$(cat <<'PYEOF'
import os, socket, struct, sys, time
args = sys.argv[1:]
host, port = args[0], int(args[1]); args = args[2:]
timeout = 1.0
if args and args[0] == '--timeout':
    timeout = float(args[1]); args = args[2:]
specs = args or ['4:3']
UNIX_EPOCH = 2208988800
def to_ntp(t):
    s = int(t); return ((s + UNIX_EPOCH) << 32) | int((t - s) * 4294967296.0)
def from_ntp(v):
    return (v >> 32) - UNIX_EPOCH + (v & 0xffffffff) / 4294967296.0
ok = True
for spec in specs:
    vn, mode = (int(x) for x in spec.split(':'))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind(('0.0.0.0', 0))
    sport = s.getsockname()[1]
    t1 = time.time()
    # low bits randomised so the origin echo is checked exactly
    xmt = (to_ntp(t1) & ~0xffff) | int.from_bytes(os.urandom(2), 'big')
    pkt = struct.pack('!BBbbII4sQQQQ', (vn << 3) | mode, 0, 6, -20, 0, 0, b'\0' * 4, 0, 0, 0, xmt)
    s.sendto(pkt, (host, port))
    line = f'req_vn={vn} req_mode={mode} sport={sport}'
    try:
        while True:
            data, src = s.recvfrom(4096)
            if src[1] == port:
                break
        t4 = time.time()
    except socket.timeout:
        print(line + ' got=0', flush=True); ok = False; continue
    finally:
        s.close()
    if len(data) < 48:
        print(line + f' got=1 len={len(data)} short=1', flush=True); ok = False; continue
    lvm, stratum, _poll, _prec, _rd, _rdisp, refid, _ref, org, rec, xm = struct.unpack('!BBbbII4sQQQQ', data[:48])
    off = ((from_ntp(rec) - t1) + (from_ntp(xm) - t4)) / 2 if rec and xm else 0.0
    org_ok = int(org == xmt)
    ok = ok and org_ok == 1
    print(line + f' got=1 li={lvm >> 6} vn={(lvm >> 3) & 7} mode={lvm & 7} stratum={stratum}'
          f' refid={refid.hex()} org_ok={org_ok} offset={off:.6f} len={len(data)}', flush=True)
sys.exit(0 if ok else 1)
PYEOF
)
ntp_client() { # ntp_client NS HOST PORT [--timeout S] SPEC...
	local ns=$1; shift
	run_in "$ns" "$PY" -c "$NTPCLIENT_PY" "$@"
}
# field NAME LINE: value of NAME=... in a key=value line
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -n 1; }
# abs_lt X LIMIT: |X| < LIMIT (floating point)
abs_lt() { awk -v x="$1" -v l="$2" 'BEGIN { if (x == "" || x !~ /^[-+]?[0-9.]+(e[-+]?[0-9]+)?$/) exit 1; if (x < 0) x = -x; exit !(x < l) }'; }

# start_server NAME NS PORT STRATUM WORKERS [EXTRA-CONFIG-LINE...]
#   STRATUM "" = no `local` line (unsynchronized server). Waits until it answers.
start_server() {
	local name=$1 ns=$2 port=$3 stratum=$4 workers=$5; shift 5
	local conf="$W/$name.conf" log="$W/$name.log" pid line cmd
	if is_stratumd; then
		{
			echo "# $IT_NAME: $name"
			echo "listen 127.0.0.1 port $port"
			[ -n "$stratum" ] && echo "local stratum $stratum"
			echo "clock none"
			echo "workers $workers"
			echo "pidfile $W/$name.pid"
			for line in "$@"; do echo "$line"; done
		} >"$conf"
		cmd=("${NOCLOCK[@]}" "$STRATUMD" -c "$conf" -d)
	else
		{
			echo "port $port"
			echo "bindaddress 127.0.0.1"
			echo "allow 127.0.0.1"
			[ -n "$stratum" ] && echo "local stratum $stratum"
			echo "cmdport 0"
			echo "pidfile $W/$name.pid"
			echo "driftfile $W/$name.drift"
		} >"$conf"
		cmd=("${NOCLOCK[@]}" chronyd -x -d -u root -f "$conf")
	fi
	# not through run_in: a backgrounded shell function would be a subshell, and $! its PID
	if [ -n "$ns" ]; then cmd=(ip netns exec "$ns" "${cmd[@]}"); fi
	"${cmd[@]}" >"$log" 2>&1 &
	pid=$!
	_pids+=("$pid")
	SRV_PID[$name]=$pid
	SRV_LOG[$name]=$log
	say "started $name (pid $pid) on 127.0.0.1:$port${ns:+ in $ns}, stratum ${stratum:-none}, workers $workers"
	wait_ready "$name" "$ns" "$port"
}

# wait_ready NAME NS PORT: poll with short queries until the server answers (15 s deadline)
wait_ready() {
	local name=$1 ns=$2 port=$3 pid=${SRV_PID[$1]} deadline=$((SECONDS + 15))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			die "$name exited early (status $?) before answering; see $name.log"
		fi
		if [ -s "$W/$name.pid" ] &&
			ntp_client "$ns" 127.0.0.1 "$port" --timeout 0.2 4:3 2>/dev/null | grep -q 'got=1'; then
			return 0
		fi
		sleep 0.1
	done
	die "$name did not answer on port $port within 15 s"
}

# forget_pid PID: a process the test has reaped itself
forget_pid() {
	local p keep=()
	for p in "${_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	_pids=("${keep[@]}")
}

# stop_server NAME: SIGTERM, wait (10 s), expect exit status 0
stop_server() {
	local name=$1 pid=${SRV_PID[$1]} i rc
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		fail "$name did not exit within 10 s of SIGTERM"
	fi
	wait "$pid"
	rc=$?
	forget_pid "$pid"
	check "$name exits 0 on SIGTERM (status $rc)" test "$rc" -eq 0
}

# counters NAME: SIGUSR1, wait for a new `PROTO: counters` line, print it
counters() {
	local name=$1 pid=${SRV_PID[$1]} log=${SRV_LOG[$1]} before i
	before=$(grep -c 'PROTO: counters' "$log")
	kill -USR1 "$pid"
	for i in $(seq 50); do
		if [ "$(grep -c 'PROTO: counters' "$log")" -gt "$before" ]; then
			grep 'PROTO: counters' "$log" | tail -n 1
			return 0
		fi
		sleep 0.1
	done
	return 1
}
