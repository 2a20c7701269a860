#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The Windows build under wine: runs test_win.exe (the Windows seams), then drives
# stratum.exe against stratumd daemons started on the Linux side (wine's loopback is the
# host's). Prints TAP ("ok N - ...", "not ok N - ...") and, last, "# N passed, N failed";
# exits 1 when anything failed.
#
#   tests/win/wine.sh STRATUM_EXE STRATUMD [TEST_WIN_EXE]
#
# STRATUM_EXE: the cross-built stratum.exe (build-win/stratum.exe); STRATUMD: a Linux
# stratumd (build/stratumd); TEST_WIN_EXE defaults to tests/win/test_win.exe beside
# STRATUM_EXE's build folder.
#
# Clock safety: wine maps SetSystemTime to the host's clock, so stratum.exe runs `sync`
# only with --dry-run or --clock sim, and the daemons run with clock none/sim and
# CAP_SYS_TIME removed from their bounding set. Everything started here is stopped by PID,
# and the private WINEPREFIX's wineserver with `wineserver -k`.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 STRATUM_EXE STRATUMD [TEST_WIN_EXE]" >&2
	exit 2
fi
abspath() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
EXE=$(abspath "$1")
STRATUMD=$(abspath "$2")
TESTEXE=${3:-$(dirname "$EXE")/tests/win/test_win.exe}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

W=$(mktemp -d /tmp/stratum-win.XXXXXX)
export WINEPREFIX=$W/prefix WINEDEBUG=-all
mkdir -p "$WINEPREFIX"
PIDS=()
N=0 PASS=0 FAIL=0
# as root, the daemons lose CAP_SYS_TIME for good (without root they cannot have it)
NOCLOCK=()
[ "$(id -u)" = 0 ] && NOCLOCK=(setpriv --bounding-set=-sys_time)

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
	local p _
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	command -v wineserver >/dev/null && wineserver -k 2>/dev/null
	if [ -n "${KEEP_WORK:-}" ]; then echo "# scratch kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { N=$((N + 1)) PASS=$((PASS + 1)); echo "ok $N - $*"; }
notok() { N=$((N + 1)) FAIL=$((FAIL + 1)); echo "not ok $N - $*"; }
diag() { sed 's/^/#   /'; }
finish() {
	echo "1..$N"
	echo "# $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && [ "$N" -gt 0 ]
	exit $?
}
bail() {
	notok "$*"
	finish
}

for t in wine wineserver ss; do
	command -v "$t" >/dev/null || bail "tool '$t' not found (scripts/install-deps.sh installs it)"
done
[ -f "$EXE" ] || bail "stratum.exe not found at $EXE"
[ -x "$STRATUMD" ] || bail "stratumd not found at $STRATUMD"

# free_port: a UDP port nobody has bound, below the kernel's ephemeral range
free_port() {
	local p _
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		if [ -z "$(ss -Hlun "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
	done
	return 1
}

# start_daemon NAME CONFIG-TEXT: starts stratumd without CAP_SYS_TIME, waits until ready
start_daemon() {
	local name=$1 _
	printf '%s' "$2" >"$W/$name.conf"
	"${NOCLOCK[@]}" "$STRATUMD" -c "$W/$name.conf" -d >"$W/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 500); do
		grep -q 'PROTO: ready' "$W/$name.log" 2>/dev/null && return 0
		kill -0 "${PIDS[-1]}" 2>/dev/null || break
		sleep 0.02
	done
	echo "# stratumd ($name) did not start:"
	diag <"$W/$name.log"
	return 1
}

# win OUT ARGS...: runs stratum.exe ARGS under wine; stdout+stderr in $W/OUT, status in $RC
win() {
	local out=$1
	shift
	wine "$EXE" "$@" >"$W/$out" 2>"$W/$out.err"
	RC=$?
	tr -d '\r' <"$W/$out" >"$W/$out.txt"
}
# expect NAME WANT-RC OUT PATTERN: the last win run's status and an extended-regex match
expect() {
	local name=$1 want=$2 out=$3 pat=$4
	if [ "$RC" -eq "$want" ] && grep -Eq -- "$pat" "$W/$out.txt"; then
		ok "$name"
	else
		notok "$name (exit $RC, want $want; want output matching /$pat/)"
		diag <"$W/$out.txt"
		diag <"$W/$out.err"
	fi
}

echo "TAP version 13"
echo "# wine $(wine --version 2>/dev/null), WINEPREFIX $WINEPREFIX"

# ---- 1. the seams: test_win.exe --------------------------------------------------------------
t0=$SECONDS
if [ -f "$TESTEXE" ]; then
	wine "$TESTEXE" >"$W/test_win.out" 2>"$W/test_win.err"
	rc=$?
	tr -d '\r' <"$W/test_win.out" >"$W/test_win.txt"
	sub=0
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "test_win: ${line#* - }"; sub=$((sub + 1)) ;;
		"not ok "*) notok "test_win: ${line#* - }"; sub=$((sub + 1)) ;;
		"#"*) echo "$line" ;;
		esac
	done <"$W/test_win.txt"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$W/test_win.txt"; then
		notok "test_win.exe exit status $rc"
		diag <"$W/test_win.err"
	elif [ "$sub" -eq 0 ]; then
		notok "test_win.exe reported no tests"
	fi
else
	notok "test_win.exe not found at $TESTEXE"
fi
echo "# test_win.exe took $((SECONDS - t0)) s (the first wine start creates the prefix)"

# ---- 2. stratum.exe against Linux stratumd ---------------------------------------------------
if ! { P_SYNC=$(free_port) && P_UNSYNC=$(free_port) && P_SIM=$(free_port) &&
	P_DEAD=$(free_port); }; then
	bail "no free UDP port"
fi
start_daemon synced "listen 127.0.0.1 port $P_SYNC
listen ::1 port $P_SYNC
local stratum 2
clock none
" || bail "stratumd (local stratum 2) did not start"
start_daemon unsynced "listen 127.0.0.1 port $P_UNSYNC
clock none
" || bail "stratumd (unsynchronized) did not start"
# A server whose (virtual) clock is 30 s ahead: a step that --dry-run and --clock sim show.
start_daemon ahead "listen 127.0.0.1 port $P_SIM
local stratum 3
clock sim start $(($(date +%s) + 30))
" || bail "stratumd (clock sim, 30 s ahead) did not start"

win version.out --version
expect "stratum.exe --version" 0 version.out '^stratum [0-9]'

win query.out query "127.0.0.1:$P_SYNC"
expect "query 127.0.0.1:$P_SYNC: exit 0, offset printed" 0 query.out \
	'offset [+-][0-9]+\.[0-9]{6} s +delay [0-9.]+ s'
if grep -Eq 'stratum 2 .*leap none' "$W/query.out.txt" &&
	grep -Eq 'server time [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{6} UTC' "$W/query.out.txt"; then
	ok "query: stratum, leap and server time (UTC) shown"
else
	notok "query: stratum, leap and server time (UTC) shown"
	diag <"$W/query.out.txt"
fi

win json.out query --json "127.0.0.1:$P_SYNC"
if [ "$RC" -eq 0 ] && "$PY" - "$W/json.out" >"$W/json.check" 2>&1 <<'PYEOF'; then
import json, re, sys
d = json.load(open(sys.argv[1], newline=''))
assert d["schema_version"] == 1, d
assert d["command"] == "query", d
s = d["servers"][0]
assert s["status"] == "ok" and s["error"] is None, s
assert isinstance(s["offset"], float) and abs(s["offset"]) < 1.0, s
assert s["stratum"] == 2 and s["leap"] == "none", s
assert 0 <= s["delay"] < 1.0, s
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s["server_time_utc"]), s
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d",
                    s["server_time_local"]), s
assert d["agreement"]["answered"] == 1 and d["agreement"]["agree"] == 1, d
print("offset", s["offset"])
PYEOF
	ok "query --json: valid JSON, schema_version 1, RFC 3339 times ($(cat "$W/json.check"))"
else
	notok "query --json (exit $RC)"
	diag <"$W/json.check"
	diag <"$W/json.out"
fi

win q6.out query "[::1]:$P_SYNC"
expect "query [::1]:$P_SYNC (IPv6): exit 0" 0 q6.out 'offset [+-][0-9]+\.[0-9]{6} s'

win dry.out sync --dry-run "127.0.0.1:$P_SYNC"
expect "sync --dry-run 127.0.0.1:$P_SYNC: exit 0, dry run" 0 dry.out \
	'^dry run: would slew the system clock by [+-][0-9.]+ s'

win drystep.out sync --dry-run -n 2 -i 0.1 "127.0.0.1:$P_SIM"
expect "sync --dry-run against a server 30 s ahead: would step" 0 drystep.out \
	'^dry run: would step the system clock by \+(29|30)\.[0-9]+ s'

win drysim.out sync --json --clock sim -n 2 -i 0.1 "127.0.0.1:$P_SIM"
if [ "$RC" -eq 0 ] && "$PY" - "$W/drysim.out" >"$W/drysim.check" 2>&1 <<'PYEOF'; then
import json, sys
d = json.load(open(sys.argv[1], newline=''))
x = d["decision"]
assert d["command"] == "sync" and d["exit_code"] == 0, d
assert x["action"] == "step" and x["clock"] == "sim" and x["applied"] is True, x
assert 29.0 < x["offset"] < 31.0 and x["dry_run"] is False and x["error"] is None, x
print("stepped the sim clock by", x["offset"])
PYEOF
	ok "sync --clock sim --json: steps the virtual clock ($(cat "$W/drysim.check"))"
else
	notok "sync --clock sim --json (exit $RC)"
	diag <"$W/drysim.check"
	diag <"$W/drysim.out"
fi

win rtc.out sync --clock sim --rtc "127.0.0.1:$P_SYNC"
expect "sync --clock sim --rtc: RTC not supported on Windows (exit 1)" 1 rtc.out \
	'could not set the hardware clock: setting the RTC is not supported on Windows'

win none.out sync --clock none "127.0.0.1:$P_SYNC"
expect "sync --clock none: refuses to adjust (exit 1)" 1 none.out \
	'could not slew the clock: clock none never adjusts'

win name.out query -t 1 no-such-host.invalid
expect "query of an unresolvable name: exit 2" 2 name.out 'name_error: cannot resolve'

win dead.out query -t 1 "127.0.0.1:$P_DEAD"
expect "query of a port where nothing listens: exit 2" 2 dead.out '(timeout|refused): '

win unsync.out query "127.0.0.1:$P_UNSYNC"
expect "query of an unsynchronized server: exit 3" 3 unsync.out \
	'unsynchronized: server is not synchronized'

win syncun.out sync --dry-run "127.0.0.1:$P_UNSYNC"
expect "sync --dry-run with only an unsynchronized server: exit 3, clock left alone" 3 \
	syncun.out 'not changing the clock'

# mode 6: status, peers and clients over Winsock (one connected socket per run)
win status.out status "127.0.0.1:$P_SYNC"
expect "status (mode 6) of a local stratum 2 server: local clock, exit 0" 0 status.out \
	'^state +local clock$'
win statusu.out status "127.0.0.1:$P_UNSYNC"
expect "status of an unsynchronized server: exit 3" 3 statusu.out '^state +unsynchronized$'
win peers.out peers "[::1]:$P_SYNC"
expect "peers over IPv6: ntpq's header" 0 peers.out \
	'^ +remote +refid +st t when poll reach +delay +offset +jitter$'
win clients.out clients --json "127.0.0.1:$P_SYNC"
expect "clients --json: the MRU list holds this client" 0 clients.out '"address": "127\.0\.0\.1"'
win statusdead.out status -t 0.5 "127.0.0.1:$P_DEAD"
tr -d '\r' <"$W/statusdead.out.err" >"$W/statusdead.out.txt"
expect "status where nothing listens: exit 2" 2 statusdead.out 'no answer|nothing listens'

win usage.out query
cp "$W/usage.out.err" "$W/usage.out.txt"
expect "query without a server: usage error on stderr, exit 1" 1 usage.out 'no server given'

finish
