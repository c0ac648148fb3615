# Keyport. `make run` starts a dev server on SoftHSM2; `make test` runs every
# test. Both install first, through `make deps`, what is missing of what
# they need (the C compiler, SoftHSM2 and the rest below).
SHELL   := /bin/bash
GO      ?= go
BIN     := bin/keyport
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
PKGS    := ./...
# `make deps` installs, with apt-get and only where missing, the tools the
# tests drive from outside: the SoftHSM2 module and softhsm2-util, IBM
# openCryptoki (a second, independent token: its soft token and pkcsslotd,
# which the tests start), p11-kit remoting (a network HSM for the tests: a
# p11-kit server exporting a SoftHSM2 token, p11-kit-client.so as the module),
# PostgreSQL (the replicas' store: the tests run throwaway clusters with
# initdb and pg_ctl), pkcs11-tool (OpenSC), openssl, a C compiler for cgo
# (miekg/pkcs11), and Node.js with npm for the official Node clients in
# test/node.

.PHONY: all build run check test deps lint bench soak clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/keyport

run: deps build
	./$(BIN) serve --dev

deps:
	@missing=""; \
	command -v softhsm2-util >/dev/null 2>&1 || missing="$$missing softhsm2"; \
	command -v pkcs11-tool   >/dev/null 2>&1 || missing="$$missing opensc"; \
	command -v openssl       >/dev/null 2>&1 || missing="$$missing openssl"; \
	test -x /usr/sbin/pkcsslotd || command -v pkcsslotd >/dev/null 2>&1 || missing="$$missing opencryptoki"; \
	command -v p11-kit >/dev/null 2>&1 || missing="$$missing p11-kit"; \
	ls /usr/lib/*/pkcs11/p11-kit-client.so >/dev/null 2>&1 || missing="$$missing p11-kit-modules"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v gcc           >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	command -v chattr        >/dev/null 2>&1 || missing="$$missing e2fsprogs"; \
	command -v taskset       >/dev/null 2>&1 || missing="$$missing util-linux"; \
	command -v npm           >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "make: missing$$missing: install them (Debian/Ubuntu: sudo apt-get install$$missing) and run again"; exit 1; \
	  fi; \
	fi
	@cd test/node && npm ci --no-audit --no-fund --loglevel=error

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# The inner loop: vet, gofmt and every test that needs no real component
# (-short skips those needing SoftHSM2, openCryptoki, PostgreSQL or the
# built binary); about a minute on two cores, nothing installed.
check: lint
	$(GO) test -short -count=1 $(PKGS)

test: deps lint
	$(GO) test -count=1 -timeout 30m $(PKGS)

# The fault soak for ten minutes (make test runs a minute of it): three
# replicas on PostgreSQL over a p11-kit network HSM, 32 clients, a fault
# every 15–30 s. SEED=N reruns a schedule.
soak: deps
	KEYPORT_SOAK=$${SOAK:-10m} KEYPORT_SOAK_SEED=$(SEED) $(GO) test -count=1 -timeout 30m -run '^TestSoak$$' -v ./test/

# Benchmarks print each Keyport operation beside the raw operation it
# wraps, measured in the same run; read the ratio, not the times. First the
# in-process ones (hsm layer vs bare PKCS#11, service vs token), gathered
# into one table of ratios; then BenchmarkScale and BenchmarkHTTP, which run
# the built binary (`serve --dev`, as `make run` does) and drive it over HTTP
# with `keyport bench`, each printing its table. Every target is asserted.
bench: deps
	@mkdir -p bin
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 2s ./hsm/ ./service/ | tee bin/bench-inprocess.txt
	@echo; echo "| in process (this run) | metric | value |"; echo "|---|---|---|"; \
	awk '/^Benchmark/ { for (i = 3; i < NF; i += 2) if ($$(i+1) ~ /\/|ratio/ && $$(i+1) !~ /\/op$$/) printf "| %s | %s | %s |\n", $$1, $$(i+1), $$i }' bin/bench-inprocess.txt
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./test/ | tee bin/bench-http.txt

clean:
	rm -rf bin .keyport-dev
