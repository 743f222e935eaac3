# Everyday targets. Builds go through CMake presets (CMakePresets.json).
JOBS ?= $(shell nproc)
DATABASE_URL ?=

.PHONY: deps build test test-unit test-all asan tsan coverage bench fmt lint run stop \
        migrate-up migrate-down openapi clean

deps:
	scripts/install-deps.sh

build:
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

# Full suite in the optimised build (every label).
test: build
	ctest --preset release -j $(JOBS)

# Fast tests only.
test-unit: build
	ctest --preset release -j $(JOBS) -L unit

# What CI runs: install, build, full suite, ASan+UBSan and TSan.
test-all:
	scripts/test.sh

asan:
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

tsan:
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan -j $(JOBS) -L tsan

coverage:
	cmake --preset coverage >/dev/null
	cmake --build --preset coverage -j $(JOBS)
	ctest --preset coverage -j $(JOBS) -LE 'soak'
	gcovr --root . --filter '(common|wal|broker|clients|streamer|collector|apigw|migrations)/' \
	  --exclude '.*/tests?/.*' --exclude 'build-coverage/.*' --print-summary \
	  --txt build-coverage/coverage.txt build-coverage
	@tail -n 5 build-coverage/coverage.txt

bench: build
	scripts/bench.sh

fmt:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

lint: build
	git ls-files '*.cc' | grep -v '^tests/' | xargs clang-tidy -p build --quiet

run:
	scripts/run-local.sh

stop:
	scripts/run-local.sh stop

# The OpenAPI document the gateway serves at /openapi.json, generated from its route table.
openapi: build
	build/bin/apigw --print-openapi > docs/openapi.json
	@echo "wrote docs/openapi.json"

migrate-up: build
	build/bin/migrate --database-url "$(DATABASE_URL)" up

migrate-down: build
	build/bin/migrate --database-url "$(DATABASE_URL)" down 1

clean:
	rm -rf build build-asan build-tsan build-coverage
