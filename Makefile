# sio: the two commands in the README are `make demo` and `make test`.
# Both install what is missing on a fresh Debian 12 machine (apt as root,
# npm in the folders that need it), build with meson into build/, then run.

APT_PACKAGES := build-essential pkg-config meson ninja-build libuv1-dev libjansson-dev \
                libmbedtls-dev node-llhttp python3
# Headless browser tests drive Debian's Chromium (never a downloaded one).
TEST_APT_PACKAGES := chromium
# Node.js 20 comes with the machine; Debian's own (18) only if none is there.
NODE_PACKAGES := $(if $(shell command -v node),,nodejs npm)
BUILD := build
ASAN_BUILD := build-asan
PORT ?= 3000

.PHONY: all demo test bench deps apt-deps test-apt-deps apt-install npm-deps build build-asan clean

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

# ---- run ------------------------------------------------------------------

demo: apt-deps server/node_modules/.installed build
	@echo "sio chat on http://localhost:$(PORT)/"
	$(BUILD)/server/sio-chat --host 0.0.0.0 --port $(PORT)

# Unit tests (TAP) and fuzz smoke runs in both builds, then the end-to-end
# tests with the npm clients against each build's servers.
test: deps test-apt-deps build build-asan
	meson test -C $(BUILD) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs
	SIO_BUILD=$(CURDIR)/$(BUILD) node --test --test-concurrency=1 tests/e2e/ tests/browser/
	SIO_BUILD=$(CURDIR)/$(ASAN_BUILD) ASAN_OPTIONS=detect_leaks=1 \
	  node --test --test-concurrency=1 tests/e2e/

# Side-by-side benchmark against Node's socket.io (tests/bench/compare.sh):
# writes docs/BENCHMARKS.md, docs/bench-fanout.png, docs/bench-results.jsonl.
# Not part of `make test` (which only smoke-runs sio-bench). QUICK=1 for a
# two-minute run into build/bench-quick/.
bench: deps build
	@$(MAKE) --no-print-directory apt-install PKGS="gnuplot-nox"
	tests/bench/compare.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
