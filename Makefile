# Thin driver around meson/ninja.  `make run` and `make test` are the two
# commands a newcomer needs (see README.md).

BUILD      ?= build
TEST_BUILD ?= build-test
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
PYTHON     ?= /usr/bin/python3

.PHONY: all deps build run test test-build fuzz install bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

# The platform in the foreground, state under $PIER_HOME
# (default ~/.local/share/pier).  Ctrl-C stops it.
run: build
	@exec ./$(BUILD)/pierd $(PIERD_FLAGS)

$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Dwerror=true

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false

test-build: deps $(TEST_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	@ninja -C $(TEST_BUILD)
	@ninja -C $(FUZZ_BUILD)

# Unit tests, end-to-end tests and a short run of every fuzz target, all
# built with ASan+UBSan.  Ends with "N passed, N failed".
test: test-build
	@$(PYTHON) tests/run.py --build $(TEST_BUILD) --fuzz-build $(FUZZ_BUILD)

fuzz: test-build
	@$(PYTHON) tests/run.py --build $(TEST_BUILD) --fuzz-build $(FUZZ_BUILD) \
		--only fuzz --fuzz-seconds 300

# Binaries in PREFIX/bin, the built-in buildpacks in PREFIX/share/pier
# (where an installed pierd looks for them).
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/pier
	install -m 0755 $(BUILD)/pierd $(BUILD)/pier $(BUILD)/pier-build $(DESTDIR)$(PREFIX)/bin/
	rm -rf $(DESTDIR)$(PREFIX)/share/pier/buildpacks
	cp -R buildpacks $(DESTDIR)$(PREFIX)/share/pier/buildpacks

bench: build
	@bench/api-latency
	@bench/deploy

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
