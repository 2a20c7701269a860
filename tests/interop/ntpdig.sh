#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Interop: NTPsec's ntpdig (SNTP client) against stratumd.
# ntpdig has no port option, so stratumd serves 127.0.0.1:123 inside a private network namespace.
#  1. `local stratum 3`: ntpdig -j reports stratum 3, leap no-leap, |offset| < 0.1 s;
#     the plain output line ends in "s3 no-leap".
#  2. no `local` line (unsynchronized): the wire reply is LI=3 / stratum 16 and ntpdig drops it
#     ("Response dropped: ..." and "no eligible servers", non-zero exit).
. "$(dirname "$0")/lib.sh"

need_root
need_tools ip setpriv ntpdig ss
need_server
new_netns

# --- 1. synchronized server -----------------------------------------------------------------
start_server sync "$NS" 123 3 1

json=$(run_in "$NS" "${NOCLOCK[@]}" ntpdig -j -t 2 127.0.0.1 2>"$W/ntpdig-j.err")
rc=$?
say "ntpdig -j: $json"
check "ntpdig -j exits 0 (status $rc)" test "$rc" -eq 0
verdict=$("$PY" -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
except Exception as e:
    print("unparsable JSON: %s" % e); sys.exit(1)
bad = []
if d.get("stratum") != 3: bad.append("stratum %r != 3" % d.get("stratum"))
if d.get("leap") != "no-leap": bad.append("leap %r != no-leap" % d.get("leap"))
off = d.get("offset")
if not isinstance(off, (int, float)) or abs(off) >= 0.1: bad.append("offset %r not within 0.1 s" % off)
if d.get("adjusted") is not False: bad.append("adjusted %r (must be false: query only)" % d.get("adjusted"))
print("; ".join(bad) if bad else "stratum 3, no-leap, offset %+.6f s" % off)
sys.exit(1 if bad else 0)' "$json")
check "ntpdig -j: $verdict" test $? -eq 0

line=$(run_in "$NS" "${NOCLOCK[@]}" ntpdig -t 2 127.0.0.1 2>"$W/ntpdig.err")
rc=$?
say "ntpdig: $line"
check "ntpdig exits 0 (status $rc)" test "$rc" -eq 0
check "ntpdig line ends in '127.0.0.1 s3 no-leap'" grep -qE ' 127\.0\.0\.1 s3 no-leap$' <<<"$line"
off=$(awk '{ print $4 }' <<<"$line")
check "ntpdig offset $off within 0.1 s" abs_lt "$off" 0.1
stop_server sync

# --- 2. unsynchronized server -----------------------------------------------------------------
start_server unsync "$NS" 123 "" 1
reply=$(ntp_client "$NS" 127.0.0.1 123 4:3)
say "raw reply: $reply"
if is_stratumd; then
	# DESIGN.md: unsynchronized replies carry LI=3 and stratum 16 on the wire, never 0
	check "unsynchronized reply is LI=3 stratum 16" \
		test "$(field li "$reply") $(field stratum "$reply")" = "3 16"
fi
run_in "$NS" "${NOCLOCK[@]}" ntpdig -t 2 127.0.0.1 >"$W/ntpdig-unsync.out" 2>"$W/ntpdig-unsync.err"
rc=$?
say "ntpdig (unsynchronized) status $rc: $(tr '\n' '|' <"$W/ntpdig-unsync.err")"
check "ntpdig rejects the unsynchronized server (non-zero status)" test "$rc" -ne 0
# ntpdig checks stratum > 15 before the leap bits, so a stratum-16/LI=3 reply is reported as
# "stratum too high"; an LI=3 reply with a lower stratum as "leap not in sync".
if is_stratumd; then
	check "ntpdig says 'Response dropped: stratum too high' or 'leap not in sync'" \
		grep -qE 'Response dropped: (leap not in sync|stratum too high)' "$W/ntpdig-unsync.err"
else
	check "ntpdig says 'Response dropped'" grep -q 'Response dropped' "$W/ntpdig-unsync.err"
fi
check "ntpdig says 'no eligible servers'" grep -q 'no eligible servers' "$W/ntpdig-unsync.err"
check "ntpdig printed no time for an unsynchronized server" test ! -s "$W/ntpdig-unsync.out"
stop_server unsync

finish
