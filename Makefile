# Two entry points that work on a fresh Debian 12 machine as root (see README.md):
#   make demo   install what is missing, build, run the demo on files in examples/
#   make test   install what is missing, build, run the whole test suite
#   make install PREFIX=P   build, then install tools, libbpfc, headers, CMake/pkg-config
#               files, manual pages and completions under P (cmake --install; ../shared/API.md)
BUILD ?= build
JOBS ?= 2
PREFIX ?= /usr/local
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test bench asan clean install

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	$(BUILD)/bin/bpfc_bench

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build tree.
asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DBPFC_SANITIZE=address,undefined -DBPFC_BUILD_BENCH=OFF"

clean:
	rm -rf $(BUILD) build-asan
