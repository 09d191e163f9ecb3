# sio: the two commands in the README are `make demo` and `make test`.
# Both install what is missing on a fresh Debian 12 machine (apt as root,
# npm in the folders that need it), build with meson into build/, then run.

APT_PACKAGES := build-essential pkg-config meson ninja-build libuv1-dev libjansson-dev \
                libmbedtls-dev node-llhttp python3 libhiredis-dev libmsgpack-dev zlib1g-dev
# Headless browser tests drive Debian's Chromium (never a downloaded one);
# clang builds the fuzz targets with libFuzzer; valgrind checks the servers
# for leaks and memory errors in the churn tests; openssl makes throwaway
# certificates for the TLS tests; redis-server backs the Redis adapter's
# tests; nginx runs docs/nginx/sio.conf in front of two nodes (sticky sessions).
TEST_APT_PACKAGES := chromium clang libclang-rt-14-dev valgrind openssl redis-server nginx
# Node.js 20 comes with the machine; Debian's own (18) only if none is there.
NODE_PACKAGES := $(if $(shell command -v node),,nodejs npm)
BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
FUZZ_TARGETS := fuzz_ws fuzz_eio fuzz_http fuzz_sio fuzz_jparse fuzz_redis fuzz_query fuzz_eio3 fuzz_deflate
# Seconds each libFuzzer target runs: `make fuzz` (FUZZ_SECONDS=N to change);
# `make test` runs each for TEST_FUZZ_SECONDS.
FUZZ_SECONDS ?= 300
TEST_FUZZ_SECONDS := 5
PORT ?= 3000

.PHONY: all demo test bench soak fuzz fuzz-run deps apt-deps test-apt-deps apt-install npm-deps \
        build build-asan build-fuzz clean

all: build

# ---- set-up ---------------------------------------------------------------

apt-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(APT_PACKAGES) $(NODE_PACKAGES)"

test-apt-deps:
	@$(MAKE) --no-print-directory apt-install PKGS="$(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The chat serves the stock client bundle from server/node_modules (npm
# socket.io-client); the tests use the npm clients and playwright-core.
NPM_DIRS := server tests/e2e tests/browser
npm-deps: $(addsuffix /node_modules/.installed,$(NPM_DIRS))

%/node_modules/.installed: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps: apt-deps npm-deps

# ---- build ----------------------------------------------------------------

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

build: apt-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: apt-deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# libFuzzer builds of the fuzz targets (clang, ASan + UBSan).
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz: apt-deps test-apt-deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(addprefix tests/fuzz/,$(FUZZ_TARGETS))

# ---- run ------------------------------------------------------------------

demo: apt-deps server/node_modules/.installed build
	@echo "sio chat on http://localhost:$(PORT)/"
	$(BUILD)/server/sio-chat --host 0.0.0.0 --port $(PORT)

# Unit tests (TAP) and fuzz smoke runs in both builds, then the end-to-end
# tests with the npm clients against each build's servers (the churn tests
# also under valgrind), then each fuzz target under libFuzzer for a few seconds.
test: deps test-apt-deps build build-asan build-fuzz
	meson test -C $(BUILD) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	SIO_BUILD=$(CURDIR)/$(BUILD) node --test --test-concurrency=1 tests/e2e/ tests/browser/
	SIO_BUILD=$(CURDIR)/$(ASAN_BUILD) ASAN_OPTIONS=detect_leaks=1 \
	  node --test --test-concurrency=1 tests/e2e/
	@$(MAKE) --no-print-directory fuzz-run FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# Each fuzz target under libFuzzer for FUZZ_SECONDS, starting from a copy of
# its seed corpus (tests/fuzz/corpus/*, left untouched); a crash stops the
# run with the input saved in $(FUZZ_BUILD)/artifacts/.
fuzz: build-fuzz
	@$(MAKE) --no-print-directory fuzz-run

fuzz-run:
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@for t in $(FUZZ_TARGETS); do \
	  name=$${t#fuzz_}; dir=$(FUZZ_BUILD)/corpus/$$name; \
	  mkdir -p $$dir && cp -n tests/fuzz/corpus/$$name/* $$dir/ 2>/dev/null; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(FUZZ_BUILD)/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$name- $$dir 2>$(FUZZ_BUILD)/$$t.log \
	    || { tail -50 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
	  grep -E "stat::number_of_executed_units|stat::new_units_added" $(FUZZ_BUILD)/$$t.log | tr '\n' ' '; echo; \
	done

# A 60 s ordering-and-loss soak: 2,000 chat clients on sio-chat (loopback),
# every message to every client exactly once, in order per sender
# (tests/bench/soak.sh; SOAK_CLIENTS, SOAK_SECONDS to change).
soak: deps build
	tests/bench/soak.sh

# Side-by-side benchmark against Node's socket.io (tests/bench/compare.sh):
# writes docs/BENCHMARKS.md, docs/bench-fanout.png, docs/bench-results.jsonl.
# Not part of `make test` (which only smoke-runs sio-bench). QUICK=1 for a
# two-minute run into build/bench-quick/.
bench: deps build
	@$(MAKE) --no-print-directory apt-install PKGS="gnuplot-nox"
	tests/bench/compare.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
