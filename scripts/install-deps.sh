#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Install what building and testing Stratum needs on Debian 12 (idempotent).
#
#   scripts/install-deps.sh           install whatever is missing (needs root)
#   scripts/install-deps.sh --check   exit 0 if everything is present, 1 (listing it) if not
#
# Besides Debian packages it unpacks NTPsec's ntpd and ntpq (package `ntpsec`, which conflicts
# with chrony and so is never installed) into .tools/ntpsec-root inside the repository.
# Daemons are never started by the install: /usr/sbin/policy-rc.d (exit 101) is put in place
# first, so e.g. chrony cannot start and discipline this machine's clock.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$REPO/.tools"
NTPSEC_ROOT="$TOOLS/ntpsec-root"

PACKAGES=(
	meson ninja-build pkg-config gcc libssl-dev libcmocka-dev   # build, unit tests
	libcap-dev                                                   # stratumd: privilege drop
	libmicrohttpd-dev                                            # stratumd: http (/metrics, /status.json)
	libsqlite3-dev libpq-dev sqlite3                             # stratum monitor: its store
	time                                                         # bench/monitor.sh: /usr/bin/time (peak RSS)
	postgresql-15                                                # tests/monitor: the PostgreSQL store
	prometheus                                                   # promtool: checks /metrics in tests/daemon
	clang libclang-rt-14-dev                                     # fuzzers (-fsanitize=fuzzer, clang 14)
	chrony ntpsec-ntpdig ntpsec-ntpdate tshark                   # interop peers and tools
	monitoring-plugins-basic                                     # check_ntp_peer (mode 6 interop)
	iproute2 util-linux python3 procps                           # ip netns, setpriv/taskset, ps
	python3-jsonschema                                           # tests/tools: --json against docs/schema
	rsyslog                                                      # tests/daemon/logs.py: syslog output (private socket)
	gcc-mingw-w64-x86-64 wine64 wine                             # Windows cross build, tests under wine
)

mode=install
case "${1:-}" in
--check) mode=check ;;
"") ;;
-h | --help)
	sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do is_installed "$p" || echo "$p"; done
}
ntpsec_ok() { [ -x "$NTPSEC_ROOT/usr/sbin/ntpd" ] && [ -x "$NTPSEC_ROOT/usr/bin/ntpq" ]; }

mapfile -t missing < <(missing_packages)
ntpsec_missing=0
ntpsec_ok || ntpsec_missing=1

if [ "${#missing[@]}" -eq 0 ] && [ "$ntpsec_missing" -eq 0 ]; then
	[ "$mode" = check ] || echo "install-deps: everything is already installed"
	exit 0
fi
if [ "$mode" = check ]; then
	[ "${#missing[@]}" -gt 0 ] && echo "install-deps: missing packages: ${missing[*]}"
	[ "$ntpsec_missing" -eq 1 ] && echo "install-deps: missing NTPsec ntpd/ntpq in $NTPSEC_ROOT"
	exit 1
fi

if [ "$(id -u)" != 0 ]; then
	{
		echo "install-deps: not root, cannot install what is missing:"
		[ "${#missing[@]}" -gt 0 ] && echo "  packages: ${missing[*]}"
		[ "$ntpsec_missing" -eq 1 ] && echo "  NTPsec ntpd/ntpq unpacked into $NTPSEC_ROOT"
		echo "Run it as root: sudo $0"
	} >&2
	exit 1
fi

# Never let a package's maintainer scripts start a daemon (chronyd would discipline the clock).
if ! [ -x /usr/sbin/policy-rc.d ] || ! grep -q 'exit 101' /usr/sbin/policy-rc.d; then
	echo "install-deps: installing /usr/sbin/policy-rc.d (exit 101): no daemon starts on install"
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
fi

export DEBIAN_FRONTEND=noninteractive
# tshark: answer "should non-superusers capture packets?" with no, without a prompt
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections

echo "install-deps: apt-get update"
apt-get -o DPkg::Lock::Timeout=1200 update -q

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get -o DPkg::Lock::Timeout=1200 install -y -q --no-install-recommends "${missing[@]}"
fi

if ! ntpsec_ok; then
	echo "install-deps: unpacking NTPsec (ntpd, ntpq) into $NTPSEC_ROOT"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# let apt download as its sandbox user _apt (else it warns and downloads as root)
	chown _apt "$tmp" 2>/dev/null || chmod 755 "$tmp"
	(cd "$tmp" && apt-get -q download ntpsec)
	dpkg-deb -x "$tmp"/ntpsec_*.deb "$tmp/ntpsec-root"
	mkdir -p "$TOOLS"
	rm -rf "$NTPSEC_ROOT"
	mv "$tmp/ntpsec-root" "$NTPSEC_ROOT"
	ntpsec_ok || { echo "install-deps: ntpd/ntpq not found in the unpacked ntpsec package" >&2; exit 1; }
fi

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: still missing after install: ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: done"
