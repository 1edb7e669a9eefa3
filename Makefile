# Thin wrapper over CMake: `make run` (install what is missing, build, run the URL-count demo) and
# `make test` (install, build, run every test through ctest). BUILD selects the build directory.
BUILD ?= build
CMAKE_FLAGS ?=
# Warnings are errors in developer and CI builds (`make test`), not in a user's (`make run`).
WERROR ?= OFF
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PACKAGES := gcc libc6-dev make cmake pkg-config luajit libluajit-5.1-dev libuv1-dev liblmdb-dev libcmocka-dev \
            lua-busted lua-cjson valgrind python3 libck-dev \
            libmicrohttpd-dev curl librdkafka-dev
DEMO_STATE := $(BUILD)/demo-state
# `make install PREFIX=P`: sluice in P/bin, libsluice.so in P/lib, the Lua job API and the bundled scripts in
# P/share/sluice (DESTDIR is honoured, as by `cmake --install`).
PREFIX ?= /usr/local

.PHONY: deps build run test bench clean install

# Installs only the packages that are missing (apt-get update once, then install).
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DSLUICE_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j2

# The bundled URL-count job over the bundled sample access log, from a fresh state.
run: build
	rm -rf $(DEMO_STATE)
	$(BUILD)/sluice run scripts/url_count.lua --input tests/data/access.log --state-dir $(DEMO_STATE)

test: WERROR = ON
test: build
	cd $(BUILD) && ctest --output-on-failure -j2

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	tests/bench/url_count_bench.sh

clean:
	rm -rf $(BUILD)
