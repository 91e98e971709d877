# A thin wrapper around CMake for the README's two commands:
#   make demo   build, fetch MNIST, run the example benchmark
#   make test   check formatting and layers, build and run the whole test suite, then again under ASan+UBSan
# Other targets: build, install (PREFIX=...), uninstall, deb (a Debian package in $(BUILD)/),
# test-fast (no sanitizer build), lint, perf, clean,
# fuzz (each fuzz target for FUZZ_SECONDS, default 60; docs/reliability.md).
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
CTEST_ARGS ?=
WERROR     ?= $(if $(CI),ON,OFF)

.PHONY: all build demo test test-fast test-asan lint install uninstall deb perf fuzz clean

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBENGINE_WERROR=$(WERROR) $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	tools/demo $(BUILD)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The sanitizer build skips CUDA (nvcc objects are not instrumented) to keep the suite short.
$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSBENGINE_SANITIZE=ON -DSBENGINE_CUDA=OFF \
	      -DSBENGINE_WERROR=$(WERROR) $(CMAKE_ARGS)

test-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE gpu $(CTEST_ARGS)

# Formatting and the layers are part of the suite: any file clang-format would change fails
# it (.clang-format), and so does an include against the layers (tools/check-layers).
ENGINE_SOURCES = $(shell git ls-files 'engine/*.c' 'engine/*.h' 'engine/*.cu' 'engine/*.cuh' 'engine/*.cpp' 2>/dev/null || \
                   find engine -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh' -o -name '*.cpp')
lint:
	@clang-format --dry-run -Werror $(ENGINE_SOURCES) && echo "lint: clang-format finds nothing to change in engine/"
	@tools/check-layers .

test: lint test-fast test-asan

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Removes what the last `make install` from $(BUILD) installed (its install_manifest.txt).
uninstall:
	cmake --build $(BUILD) --target uninstall

# $(BUILD)/sbengine_<version>_<arch>.deb: `apt install ./$(BUILD)/sbengine_*.deb` installs it.
deb: build
	cd $(BUILD) && cpack -G DEB

perf: build
	tools/perf/run $(BUILD)

FUZZ_SECONDS ?= 60
fuzz: build
	tests/fuzz/ctest.sh build $(abspath $(BUILD))
	$(MAKE) -C tests/fuzz BUILD=$(abspath $(BUILD))/fuzz GENERATED=$(abspath $(BUILD))/generated \
	        long FUZZ_SECONDS=$(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
