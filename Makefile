# authgate: `make test` is the one test command (CI runs exactly it).
SHELL := /bin/bash
GO ?= go
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
# Benchmark repetitions for `make bench` (benchstat wants 6 for confidence intervals).
COUNT ?= 6

# Flags for `make loadtest`, e.g. LOADTEST_FLAGS='-kill-memcached-at 15s'.
LOADTEST_FLAGS ?=

.PHONY: test deps vet bench loadtest fuzz

# Installs memcached and PostgreSQL when missing (apt-get, as root), then vets
# and runs every test with the race detector; tests that need memcached or
# PostgreSQL fail rather than skip.
# The bench module is vetted too, so that it keeps building.
test: deps vet
	AUTHGATE_REQUIRE_MEMCACHED=1 AUTHGATE_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 ./...

deps:
	@./scripts/ensure-memcached.sh
	@./scripts/ensure-postgres.sh

vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

# Runs the library's benchmarks, then the middleware beside its peers (the
# bench module), COUNT times each, and writes bench/results/: the raw
# output, benchstat's summary, and table.md with the ratios and goals.
bench: deps
	mkdir -p bench/results
	AUTHGATE_REQUIRE_MEMCACHED=1 $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./... | tee bench/results/library.txt
	cd bench && AUTHGATE_REQUIRE_MEMCACHED=1 $(GO) test -run '^$$' -bench Middleware -benchmem -count $(COUNT) . | tee results/middleware.txt
	cd bench && $(GO) tool benchstat results/middleware.txt > results/benchstat.txt
	cd bench && $(GO) run ./cmd/benchtable < results/middleware.txt | tee results/table.md

# Drives the venue example over loopback: see bench/README.md.
loadtest: deps
	cd bench && $(GO) run ./cmd/loadtest $(LOADTEST_FLAGS)

# Runs each fuzz target for FUZZTIME.
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)
