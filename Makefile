# lvsd — build, test, demo.
#
#   make demo    a director pair with real servers in the lab VM, showing failover
#   make test    install the lab's packages (root) and run every test
#   make bench   benchmarks
#   make soak    a long fault-injection soak in the lab VM, into BENCHMARKS.md
#   make lint    gofmt, go vet, staticcheck
#   make deb     the Debian package, in bin/
#   make man     regenerate the manual pages in man/

GO        ?= go
BIN       := bin/lvsd
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/lvsd/lvsd/internal/buildinfo.Version=$(VERSION) -X github.com/lvsd/lvsd/internal/buildinfo.Commit=$(COMMIT)
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION := v0.51.0
# The Debian version: a release tag vX.Y.Z gives X.Y.Z (+N.gHASH after it),
# an untagged tree 0.0~gitDATE.HASH; -1 is the packaging revision.
DEB_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && echo "$${v#v}" | sed 's/-\([0-9]*\)-g/+\1.g/' || echo "0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).$$(git rev-parse --short HEAD 2>/dev/null)")-1

.PHONY: build test unit integration fuzz demo bench soak lint deps clean deb man docs

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsd

deps:
	@bash .ci/install-deps.sh

# A Debian package staged from bin/lvsd and packaging/deb/, built with
# dpkg-deb (see the README's "Install from the package").
deb: build
	@bash packaging/deb/build.sh $(BIN) '$(DEB_VERSION)' bin

# The documentation generated from the code: man/*, config/REFERENCE.md
# and the reference in README.md.
docs:
	$(GO) run ./internal/cmd/gendocs

man: docs

# The full suite: unit tests everywhere, integration tests (namespaces and
# the IPVS VM lab) when run as root. Under CI=true nothing is skipped. The
# integration packages run one at a time, after the rest: their failover
# timings are measured on the wire and should not share two cores with
# the health-check load tests.
test: deps build
	$(GO) vet ./...
	$(GO) vet -tags vm ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v /integration)
	$(GO) test -count=1 -timeout 40m -p 1 ./integration/...
	$(MAKE) fuzz

# Hostile input: the VRRP codec, the config parser and its nesting
# scanner, whole reloads of a running daemon, the IPVS dump decoder, the
# health checks' HTTP response parser and the keepalived.conf reader of
# lvsd convert, each for a count of inputs
# (about a minute for the codec, 20 s for the others on this machine kind).
# A count, not a duration: a -fuzztime duration is a deadline that Go's
# fuzzing coordinator can report as a failure when it expires on a busy
# machine, with no failing input. A crash fails the run and leaves the
# input under testdata/fuzz for a regression test.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseAdvert$$' -fuzztime 600000x ./vrrp/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 100000x ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzNesting$$' -fuzztime 100000x ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzReloadMatchesFresh$$' -fuzztime 3000x ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzPlainMatchesHCL$$' -fuzztime 200000x ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzReload$$' -fuzztime 20000x ./internal/daemon/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 300000x ./ipvs/
	$(GO) test -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime 300000x ./healthcheck/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 200000x ./internal/keepalived/

unit:
	$(GO) test -count=1 ./...

integration: deps
	$(GO) test -count=1 -timeout 40m -v ./integration/...

# Installs the lab's packages (root), builds lvsd and runs it in the lab
# VM: two directors, DR real servers, a client, and the master killed. The
# test builds lvsd itself, with the flags of its own build, so that a cold
# Go cache compiles every package once rather than twice (bin/lvsd is
# built with -trimpath, which shares nothing with it).
demo: deps
	@bash examples/demo.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The fault-injection soak (integration/soak) for SOAK_DURATION; its
# table replaces the Soak section of BENCHMARKS.md. SOAK_SEED=N replays
# the schedule of an earlier run (0 draws a new one).
SOAK_DURATION ?= 30m
SOAK_SEED     ?= 0
soak: deps
	$(GO) run ./bench/soak -duration $(SOAK_DURATION) -seed $(SOAK_SEED) -write BENCHMARKS.md

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags vm ./...
	$(GO) vet -tags vm,ipvsbench,scaleoutbench ./...
	$(GO) vet -tags vm,hcbench,failoverbench ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags vm,hcbench,failoverbench ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags vm,ipvsbench,scaleoutbench ./...
	@# No function of the product that no command reaches (integration/
	@# holds the tests' own libraries, reached from the tests).
	@out=$$($(GO) run golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION) ./cmd/lvsd ./bench/... ./internal/cmd/...) || exit 1; \
	dead=$$(echo "$$out" | grep -v '^integration/' || true); \
	test -z "$$dead" || { echo "unreachable code:"; echo "$$dead"; exit 1; }

clean:
	rm -rf bin
