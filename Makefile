# The README's two commands: `make up` and `make test`.
SHELL := /bin/bash
EXEC_ROOT ?= /run/moat
SOCK := $(EXEC_ROOT)/moat.sock
LOG_DIR ?= /var/log/moat

.PHONY: up down test deps preflight-up preflight-test build check lint bench bench-pull bench-build clean

deps:
	@bash scripts/install-deps.sh

# Fails in the first second, naming the Debian package, when an install step is missing.
preflight-up: deps
	@node scripts/preflight.mjs up

preflight-test: deps
	@node scripts/preflight.mjs test

build: deps
	@npm run --silent build

# Install, build, start moatd in the background, run one demo container.
up: preflight-up build
	@bash scripts/up.sh

# Stop the daemon; containers keep running (live restore brings them back).
down:
	@bash scripts/down.sh

lint: build
	@node scripts/lint.mjs

# Everything: typecheck + lint + unit + kernel/API/compat integration tests.
test: preflight-test build
	@node scripts/lint.mjs
	@MOAT_TEST_STRICT=1 node scripts/run-tests.mjs all

# Build + lint + unit tests: no root, no apt, no network (npm run check).
check:
	@npm run check

# moatd, dockerd and Podman side by side (docs/performance.md); BENCH_ARGS='--compare bench/results/X.json'.
bench: build
	@node dist/bench/engine.js $(BENCH_ARGS)

# Pull of a 3-layer ~52 MB image from a local registry, moatd vs dockerd (overlay2).
bench-pull: build
	@node dist/bench/pull.js

# A 6-step docker build, cold and warm, moatd vs dockerd's classic builder.
bench-build: build
	@node dist/bench/build.js

clean:
	rm -rf dist
