# authgate: `make test` is the one test command (CI runs exactly it).
SHELL := /bin/bash
GO ?= go
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
# Benchmark repetitions for `make bench` (benchstat wants at least 5).
COUNT ?= 5

.PHONY: test deps vet bench fuzz

# Installs memcached when missing (apt-get, as root), then vets and runs every
# test with the race detector; tests that need memcached fail rather than skip.
test: deps vet
	AUTHGATE_REQUIRE_MEMCACHED=1 $(GO) test -race -count=1 ./...

deps:
	@./scripts/ensure-memcached.sh

vet:
	$(GO) vet ./...

# Runs every benchmark of the module COUNT times.
bench: deps
	AUTHGATE_REQUIRE_MEMCACHED=1 $(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) ./...

# Runs each fuzz target for FUZZTIME.
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)
