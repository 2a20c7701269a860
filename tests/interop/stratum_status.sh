#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: `stratum status`, `stratum peers` and `stratum clients` against NTPsec's ntpd,
# side by side with NTPsec's own ntpq, in private network namespaces (ntpd only serves
# port 123). Two namespaces joined by a veth pair (198.18.0.1 <-> 198.18.0.2):
#  1. ntpd (orphan mode, `disable ntp`, so it never touches a clock) on 198.18.0.1 has two
#     sources: a stratumd `local stratum 1` on 198.18.0.2 and 198.18.0.3, where nobody is.
#     Once ntpq -p shows the system peer, `stratum peers` shows the same rows: the same tally
#     codes, remote, refid, st, t, poll and reach (no why column: ntpd has no `selection`).
#     `stratum status` agrees with `ntpq -c rv` (leap, stratum, refid), names the system
#     peer 198.18.0.2:123 and the software; `stratum clients` lists the addresses that
#     `ntpq -c mrulist` lists. Every --json validates against docs/schema/.
#  2. From the other namespace, ntpd's `restrict default ... noquery` gives silence: exit 2.
#  3. An ntpd alone in orphan mode: `stratum status` says local clock at stratum 5;
#     `stratum peers` has no rows where ntpq says "No association IDs returned".
. "$(dirname "$0")/lib.sh"

need_root
need_tools ip setpriv ss
need_server
is_stratumd || { say "SKIP: stratumd is the upstream here"; exit 77; }
NTPD=${NTPD:-$SRCDIR/.tools/ntpsec-root/usr/sbin/ntpd}
NTPQ=${NTPQ:-$SRCDIR/.tools/ntpsec-root/usr/bin/ntpq}
STRATUM=${STRATUM:-$(dirname "$STRATUMD")/stratum}
[ -x "$NTPD" ] || skip_or_fail "NTPsec ntpd not found at $NTPD (scripts/install-deps.sh unpacks it)"
[ -x "$NTPQ" ] || skip_or_fail "NTPsec ntpq not found at $NTPQ"
[ -x "$STRATUM" ] || die "stratum not found at $STRATUM"
"$PY" -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema missing"

ntpq() { # ntpq NS ARGS...
	local ns=$1; shift
	run_in "$ns" timeout 30 "$NTPQ" "$@" 2>&1
}
st() { # st NS ARGS...: the stratum tool without CAP_SYS_TIME; stdout only
	local ns=$1; shift
	run_in "$ns" "${NOCLOCK[@]}" "$STRATUM" "$@" 2>>"$W/stratum-stderr.log"
}
# valid CMD FILE: the JSON in FILE matches docs/schema/stratum-CMD.schema.json
valid() {
	"$PY" - "$SRCDIR/docs/schema/stratum-$1.schema.json" "$2" <<'PYEOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
for e in errors[:5]:
    print("  at /%s: %s" % ("/".join(map(str, e.path)), e.message))
sys.exit(1 if errors else 0)
PYEOF
}
# start_ntpd NAME NS SERVER-LINES...: NTPsec ntpd in orphan mode (INTEROP.md 1e)
start_ntpd() {
	local name=$1 ns=$2 line; shift 2
	{
		echo "disable ntp"
		echo "disable kernel"
		echo "tos orphan 5 orphanwait 1"
		echo "driftfile $W/$name.drift"
		echo "statsdir $W/"
		echo "restrict default nomodify nopeer noquery"
		echo "restrict 127.0.0.0 mask 255.0.0.0"
		echo "restrict ::1"
		for line in "$@"; do echo "$line"; done
	} >"$W/$name.conf"
	ip netns exec "$ns" "${NOCLOCK[@]}" "$NTPD" -n -c "$W/$name.conf" -p "$W/$name.pid" \
		-l "$W/$name.log" >"$W/$name-stdout.log" 2>&1 &
	_pids+=($!)
}

# --- 1. ntpd with two sources ------------------------------------------------------------------
new_veth_pair

start_server upstream "$NSB" 1123 1 1 "listen 198.18.0.2 port 123"
start_ntpd ntpd "$NSA" "server 198.18.0.2 iburst minpoll 1 maxpoll 1" \
	"server 198.18.0.3 iburst minpoll 1 maxpoll 1"
deadline=$((SECONDS + 40))
until ntpq "$NSA" -pn 127.0.0.1 >"$W/ntpq-p.out" && grep -q '^\*198\.18\.0\.2 ' "$W/ntpq-p.out"; do
	[ "$SECONDS" -lt "$deadline" ] || die "ntpd never selected 198.18.0.2: $(tr '\n' '|' <"$W/ntpq-p.out")"
	sleep 0.5
done
pass "ntpd selected the stratumd upstream"

# compare A B: the rows of ntpq -p (A) and stratum peers (B), field by field but when
# (ages move) and the three measurements (they move too)
compare_peers() {
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
def rows(path):
    out = {}
    for line in open(path).read().splitlines()[2:]:
        if not line.strip():
            continue
        f = line[1:].split()
        out[f[0]] = (line[0], f[1], f[2], f[3], f[5], f[6], f[10:])
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
bad = []
if set(a) != set(b):
    bad.append("remotes differ: ntpq %s, stratum %s" % (sorted(a), sorted(b)))
for k in sorted(set(a) & set(b)):
    ta, tb = a[k][:6], b[k][:6]
    if ta != tb:
        bad.append("%s: ntpq (tally, refid, st, t, poll, reach) %r, stratum %r" % (k, ta, tb))
    if b[k][6]:
        bad.append("%s: a why column from ntpd: %r" % (k, b[k][6]))
print("; ".join(bad) if bad else "same rows: " + ", ".join("%r%s st %s reach %s" % (a[k][0], k, a[k][2], a[k][5]) for k in sorted(a)))
sys.exit(1 if bad else 0)
PYEOF
}
ok=1
for attempt in 1 2 3 4 5; do
	ntpq "$NSA" -pn 127.0.0.1 >"$W/ntpq-p.out"
	st "$NSA" peers >"$W/peers.out"
	rc=$?
	if msg=$(compare_peers "$W/ntpq-p.out" "$W/peers.out"); then ok=0; break; fi
	sleep 0.7 # a poll between the two (reach shifts): look again
done
say "ntpq -pn:"; sed 's/^/    /' "$W/ntpq-p.out"
say "stratum peers:"; sed 's/^/    /' "$W/peers.out"
check "stratum peers exits 0 (status $rc)" test "$rc" -eq 0
check "stratum peers = ntpq -p ($msg)" test "$ok" -eq 0
check "header as ntpq's" grep -q '^     remote           refid      st t when poll reach   delay   offset   jitter$' "$W/peers.out"
check "198.18.0.3 rejected with reach 0" grep -qE '^ 198\.18\.0\.3 +\.INIT\. +16 u .* 0 ' "$W/peers.out"

st "$NSA" peers --json >"$W/peers.json"
check "peers --json valid" valid peers "$W/peers.json"
v=$("$PY" - "$W/peers.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = {x["address"]: x for x in d["peers"]}
bad = []
u, z = p.get("198.18.0.2"), p.get("198.18.0.3")
if not u or u["tally"] != "*" or u["condition"] != "sys.peer" or u["stratum"] != 1 or u["port"] != 123:
    bad.append("upstream %r" % u)
if not z or z["tally"] != " " or z["reach"] != 0 or z["why"] is not None:
    bad.append("silent %r" % z)
print("; ".join(bad) or "sys.peer 198.18.0.2, reject 198.18.0.3")
sys.exit(1 if bad else 0)
PYEOF
)
check "peers --json: $v" test $? -eq 0

rv=$(ntpq "$NSA" -c "rv 0 leap,stratum,refid" 127.0.0.1 | tr -d '\n')
st "$NSA" status >"$W/status.out"
rc=$?
say "ntpq rv: $rv"
say "stratum status:"; sed 's/^/    /' "$W/status.out"
lp=$(sed -n 's/.*leap=\([0-9]*\).*/\1/p' <<<"$rv")
sn=$(sed -n 's/.*stratum=\([0-9]*\).*/\1/p' <<<"$rv")
rf=$(sed -n 's/.*refid=\([^, ]*\).*/\1/p' <<<"$rv")
check "status: stratum $sn as ntpq's" grep -qE "^stratum +$sn\$" "$W/status.out"
check "status: refid $rf as ntpq's" grep -qE "^refid +${rf//./\\.}\$" "$W/status.out"
check "status: software ntpd ntpsec" grep -qE '^server +127\.0\.0\.1:123 \(ntpd ntpsec-' "$W/status.out"
check "status: system peer 198.18.0.2:123" grep -qE '^system peer +198\.18\.0\.2:123 \(association [0-9]+\)$' "$W/status.out"
if [ "$lp" = 11 ] || [ "$lp" = 3 ]; then
	check "status: leap alarm -> unsynchronized, exit 3 (status $rc)" bash -c \
		"[ $rc -eq 3 ] && grep -qE '^state +unsynchronized$' '$W/status.out'"
else
	check "status: synchronized, exit 0 (status $rc)" bash -c \
		"[ $rc -eq 0 ] && grep -qE '^state +synchronized$' '$W/status.out' && grep -qE '^leap +none$' '$W/status.out'"
fi
check "status: uptime (ss_uptime)" grep -qE '^uptime +' "$W/status.out"
st "$NSA" status --json >"$W/status.json"
check "status --json valid" valid status "$W/status.json"
check "status --json: derived state, ntpd's version" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["state_source"] == "derived" and d["software"].startswith("ntpd ntpsec")
         and d["system_peer"]["address"] == "198.18.0.2" and d["error"] is None else 1)' "$W/status.json"

ntpq "$NSA" -n -c mrulist 127.0.0.1 >"$W/mrulist.out"
st "$NSA" clients >"$W/clients.out"
rc=$?
say "stratum clients:"; sed 's/^/    /' "$W/clients.out"
a=$(awk 'NR > 2 && $NF ~ /^[0-9a-f.:]+$/ { print $NF }' "$W/mrulist.out" | sort | tr '\n' ' ')
b=$(awk 'NR > 2 { print $NF }' "$W/clients.out" | sort | tr '\n' ' ')
check "clients exits 0 (status $rc)" test "$rc" -eq 0
check "clients lists what ntpq's mrulist lists ($b)" test "$a" = "$b"
check "clients: the upstream 198.18.0.2 (mode 4, v4, port 123)" grep -qE ' 4 4 +[0-9]+ .* 123 198\.18\.0\.2$' "$W/clients.out"
st "$NSA" clients --json --sort -count >"$W/clients.json"
check "clients --json valid" valid clients "$W/clients.json"

# --- 2. ntpd's noquery for others: silence -----------------------------------------------------
st "$NSB" status -t 0.3 198.18.0.1 >"$W/noquery.out"
rc=$?
check "status from another host under ntpd's noquery: exit 2 (status $rc)" test "$rc" -eq 2

# --- 3. ntpd alone in orphan mode --------------------------------------------------------------
new_netns
NSC=$NS
start_ntpd orphan "$NSC"
deadline=$((SECONDS + 30))
until st "$NSC" status -t 0.5 >"$W/orphan.out" && grep -qE '^stratum +5$' "$W/orphan.out"; do
	[ "$SECONDS" -lt "$deadline" ] || { fail "orphan ntpd never at stratum 5: $(tr '\n' '|' <"$W/orphan.out")"; break; }
	sleep 0.5
done
check "orphan ntpd: local clock" grep -qE '^state +local clock$' "$W/orphan.out"
check "orphan ntpd: no system peer" grep -qE '^system peer +none$' "$W/orphan.out"
out=$(ntpq "$NSC" -p 127.0.0.1)
st "$NSC" peers >"$W/orphan-peers.out"
check "orphan ntpd: ntpq has no associations ($out)" grep -q 'No association IDs returned' <<<"$out"
check "orphan ntpd: stratum peers has no rows" test "$(wc -l <"$W/orphan-peers.out")" -eq 2

finish
