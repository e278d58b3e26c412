# authgate: `make test` is the one test command (CI runs exactly it).
SHELL := /bin/bash
GO ?= go
# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 10s
# Benchmark repetitions for `make bench` (benchstat wants 6 for confidence intervals).
COUNT ?= 6

# Flags for `make loadtest`, e.g. LOADTEST_FLAGS='-kill-memcached-at 15s', or
# LOADTEST_FLAGS='-compare 0 -cluster -duration 60s' for three memcached nodes,
# one of them hung, killed and restarted mid-run (see bench/README.md).
LOADTEST_FLAGS ?=

.PHONY: test deps vet staticcheck vulncheck bench loadtest fuzz interop

# Installs memcached, PostgreSQL and nginx when missing (apt-get, as root),
# then vets, runs staticcheck and runs every test with the race detector;
# tests that need memcached, PostgreSQL or nginx fail rather than skip. The
# grpcauth module is tested like the main one; the bench module is vetted and
# checked too, so that it keeps building.
test: deps vet staticcheck
	AUTHGATE_REQUIRE_MEMCACHED=1 AUTHGATE_REQUIRE_POSTGRES=1 AUTHGATE_REQUIRE_NGINX=1 $(GO) test -race -count=1 ./...
	cd grpcauth && $(GO) test -race -count=1 ./...

deps:
	@./scripts/ensure-memcached.sh
	@./scripts/ensure-postgres.sh
	@./scripts/ensure-nginx.sh

vet:
	$(GO) vet ./...
	cd grpcauth && $(GO) vet ./...
	cd bench && $(GO) vet ./...
	cd interop && $(GO) vet ./...

# staticcheck at the version pinned in go.mod's tool block, over the three
# modules (the other two use the main module's build of it: `go tool -n`
# prints its path).
staticcheck:
	$(GO) tool staticcheck ./...
	sc=$$($(GO) tool -n staticcheck) && cd grpcauth && $$sc ./... && cd ../bench && $$sc ./... && cd ../interop && $$sc ./...

# govulncheck (pinned in go.mod) over the library's two modules. It needs
# the Go vulnerability database, which this project's machines and CI cannot
# reach, so it is not part of `make test`.
vulncheck:
	$(GO) tool govulncheck ./...
	vc=$$($(GO) tool -n govulncheck) && cd grpcauth && $$vc ./...

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

# Runs the venue example against panva's oidc-provider (npm, pinned in
# interop/oidc-provider/package-lock.json) with JWT and opaque access
# tokens, and reports each step: see README.md, "Interop run". Needs Node.js
# and npm (scripts/ensure-node.sh); not part of `make test`, whose CI is Go
# only, but it must pass.
interop:
	@./scripts/ensure-node.sh
	cd interop/oidc-provider && npm ci --no-audit --no-fund --loglevel=error
	cd interop && $(GO) run . -repo ..

# Runs each fuzz target for FUZZTIME.
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)
