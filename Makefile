# Catfish: the two commands are `make run` and `make test`.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test test-go deps test-e2e
.PHONY: test-ship release

# The server is built, then exec'd as make's own child (no `go run` in
# between), so Ctrl-C reaches it directly and a clean stop is not reported
# as a make error.
run: build ## run the server with the embedded defaults (data in ./data)
	exec ./catfish

build: ## build ./catfish, statically linked
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o catfish .

test: deps test-go test-fuzz test-ship test-e2e ## every test

deps: ## install what the tests need when missing (Chromium, CJK fonts, e2e npm packages)
	bash scripts/deps.sh

test-go: ## Go unit, integration and race tests
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

test-e2e: ## the admin page in Debian's Chromium, against the real binary (needs deps)
	cd e2e && GO="$(GO)" npm test

test-ship: ## release build, static binaries, compose file, workflows, fresh start
	GO="$(GO)" bash scripts/check-ship.sh

release: ## binaries for linux, darwin, windows x amd64, arm64 in dist/, with SHA256SUMS
	VERSION="$(VERSION)" GO="$(GO)" bash scripts/release.sh

.PHONY: bench
bench: ## catfish against a bare ReverseProxy (bench/README.md); not part of `make test`. BENCH_FLAGS=--quick for a smoke test
	bash bench/run.sh $(BENCH_FLAGS)

.PHONY: test-fuzz
# A budget in executions, not seconds: with a duration, Go 1.26's fuzz
# coordinator can report "context deadline exceeded" as a failure when the
# time runs out while a worker is mid-call (golang/go#75804, fixed in 1.27),
# with no failing input. 30,000 runs take 2-40 s per target here.
FUZZTIME ?= 30000x
test-fuzz: ## every Go fuzz target (request scanner, SSE, admin decoders, journal frames, planner), FUZZTIME runs each
	@set -e; for f in $$(grep -rl --include='*_test.go' --exclude-dir=node_modules '^func Fuzz' . | sort); do \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz: $$fn in $$(dirname $$f) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s $$(dirname $$f); \
		done; \
	done
