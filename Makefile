# SPDX-License-Identifier: BSD-2-Clause
# Thin wrapper around Meson + Ninja. The README's two commands are `make run` and `make test`.
#   make / make build   configure build/ if needed, then compile
#   make run            install what is missing, build, run stratumd on 127.0.0.1:11123
#   make test           install missing dependencies, build, run the whole test suite
#   make bench-server   server throughput benchmark against chronyd and ntpnull (a few minutes)
#   make bench-control  serving while ntpq reads the client list; memory per client
#   make bench-query    `stratum query` against ntpdig, 1,000 runs each (about a minute)
#   make bench-sim      the simulator's accuracy table (tests/sim), 10 seeds per scenario
#   make bench-monitor  `stratum monitor sweep` of 10k and 100k devices; an ntpdig loop (2-3 min)
#   make win            cross-build stratum.exe for Windows into build-win/ (mingw-w64)
#   make clean          remove the build folders
# MESON_ARGS: extra `meson setup` options (CI=true adds -Dwerror=true).

BUILD ?= build
MESON_ARGS ?= $(if $(filter true,$(CI)),-Dwerror=true)
TEST_ARGS ?=
# results of `make test`'s own run: meson-logs/testlog.json would be overwritten by any other
# `meson test` on the same build folder meanwhile (a shared tree), so a name of its own
TESTLOG_BASE = make-test
TESTLOG = $(BUILD)/meson-logs/$(TESTLOG_BASE).json
# the daemon never gets the right to change the clock (as root: CAP_SYS_TIME leaves the bounding set)
NOCLOCK = $(if $(filter 0,$(shell id -u)),setpriv --bounding-set=-sys_time)

.PHONY: all build run test bench-server bench-control bench-query bench-sim bench-monitor win clean

all: build

build:
	@if [ ! -f $(BUILD)/build.ninja ]; then \
		echo "meson setup $(BUILD) $(MESON_ARGS)"; meson setup $(BUILD) $(MESON_ARGS) || exit 1; \
	elif [ -n "$(strip $(MESON_ARGS))" ]; then \
		meson configure $(BUILD) $(MESON_ARGS) || exit 1; \
	fi
	ninja -C $(BUILD)

run:
	@bash scripts/install-deps.sh --check >/dev/null || bash scripts/install-deps.sh || exit 1
	@$(MAKE) --no-print-directory build BUILD=$(BUILD)
	@mkdir -p /tmp/stratum-run
	@echo "Running stratumd in the foreground with examples/stratum.conf; it logs to this terminal."
	@echo "It serves NTP on 127.0.0.1:11123 (stratum 10, from this machine's own clock)."
	@echo "The system clock is never touched: 'clock none', and no CAP_SYS_TIME when run as root."
	@echo "Query it from another terminal:  $(BUILD)/stratum query 127.0.0.1:11123"
	@echo "  its sources and state:         $(BUILD)/stratum ctl --socket /tmp/stratum-run/stratumd.sock sources"
	@echo "  or with chrony:                chronyd -Q -t 3 'server 127.0.0.1 port 11123 iburst maxsamples 1'"
	@echo "  (ntpdig only speaks to port 123: see tests/interop/ntpdig.sh for a network-namespace recipe)"
	@echo "Stop it with Ctrl-C."
	$(NOCLOCK) $(BUILD)/stratumd -c examples/stratum.conf -d

# Last line: "N passed, N failed[, N skipped]" from meson's JSON test log.
test:
	@bash scripts/install-deps.sh --check >/dev/null || bash scripts/install-deps.sh || \
		{ echo "0 passed, 1 failed"; exit 1; }
	@$(MAKE) --no-print-directory build BUILD=$(BUILD) || { echo "0 passed, 1 failed"; exit 1; }
	@rm -f $(TESTLOG); \
	meson test -C $(BUILD) --print-errorlogs --logbase $(TESTLOG_BASE) $(TEST_ARGS); rc=$$?; \
	if [ ! -f $(TESTLOG) ]; then echo "0 passed, 1 failed"; exit 1; fi; \
	awk '{ r = ""; \
		if (match($$0, /"result": *"[A-Z]+"/)) { \
			r = substr($$0, RSTART, RLENGTH); sub(/^"result": *"/, "", r); sub(/"$$/, "", r) } \
		if (r == "OK" || r == "EXPECTEDFAIL") p++; else if (r == "SKIP") s++; else if (r != "") f++ } \
		END { printf "%d passed, %d failed", p, f; if (s > 0) printf ", %d skipped", s; printf "\n"; \
			exit (f > 0 || p + s == 0) }' $(TESTLOG) || rc=1; \
	exit $$rc

bench-server: build
	bash bench/server.sh

# The control path under load (ntpq -c mrulist every second) and client-list memory.
bench-control: build
	bash bench/control.sh

bench-query: build
	bash bench/query.sh

# The accuracy simulator's table: every scenario over 10 seeds (tests/sim; a few seconds).
bench-sim: build
	$(BUILD)/tests/sim/sim_scenarios all

# The fleet monitor: sweeps of simulated devices (tests/monitor's responder, in a private
# network namespace) against a shell loop of ntpdig over 1,000 of them (2-3 minutes).
bench-monitor: build
	BUILD=$(BUILD) bash bench/monitor.sh

# Windows: tests/win/wine.sh build-win/stratum.exe build/stratumd runs its tests under wine
win:
	@if [ ! -f build-win/build.ninja ]; then \
		echo "meson setup build-win --cross-file cross/x86_64-w64-mingw32.txt $(MESON_ARGS)"; \
		meson setup build-win --cross-file cross/x86_64-w64-mingw32.txt $(MESON_ARGS) || exit 1; \
	fi
	ninja -C build-win

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-win
