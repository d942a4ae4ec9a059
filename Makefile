# glassbox — see README.md. Everything here runs as root.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0

BIN    := bin/glassbox
ROOTFS := rootfs
IMAGE  := build/busybox-oci

.PHONY: build generate demo image test vmtest oci-validation e2e-otel unit bench rootfs clean

build:
	# glassbox: the commands that run containers, built lean to page in half
	# as much (cmd/glassbox/lean.go); every other command line goes to
	# glassbox-full, the same package with all its commands.
	# -buildvcs: --version names the commit.
	go build -tags lean -buildvcs=auto -o $(BIN) ./cmd/glassbox
	go build -buildvcs=auto -o $(BIN)-full ./cmd/glassbox
	go build -o $(BIN)-init ./cmd/glassbox-init
	go build -o $(BIN)-shim ./cmd/glassbox-shim
	go build -o $(BIN)-otlp ./cmd/glassbox-otlp   # OTLP export, when a collector is configured (trace/otlp.go)
	go build -o $(BIN)-pause ./cmd/glassbox-pause   # a pod sandbox's process (docs/kubernetes.md)
	# The OCI runtime command set (docs/oci.md): a hard link, so that the name
	# stays glassbox-runc however a caller resolves the path (readlink -f).
	ln -f $(BIN) $(BIN)-runc

# Rebuild the BPF objects (trace/observer_bpfel.o and its Go loader) from
# trace/bpf/*.c; they are committed, so a plain build needs no clang.
generate:
	command -v clang >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ] || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang llvm libbpf-dev; }
	cd trace && go generate ./...

$(ROOTFS)/bin/busybox:
	hack/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

# The demo image: Debian's busybox-static as a one-layer OCI image layout,
# imported into the image store as busybox:latest (no registry needed). It is
# dated by its build: SOURCE_DATE_EPOCH, by default the busybox package's
# own date (the rootfs keeps the binary's time).
$(IMAGE)/index.json: $(ROOTFS)/bin/busybox
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(stat -c %Y $(ROOTFS)/bin/busybox)} go run ./hack/mkimage $(ROOTFS) $(IMAGE) busybox:latest

image: build $(IMAGE)/index.json
	$(BIN) import $(IMAGE) busybox:latest

# The demo: a traced container from the busybox image.
demo: image
	$(BIN) run --rm --trace busybox sh -c 'hostname; ps; ls /'

# Unit tests and the integration suite (real containers; needs root).
test:
	go vet ./...
	go vet -tags lean ./cmd/glassbox
	# -p 1: one package at a time. The integration tests check the whole
	# host for leftovers (cgroups, observer entries), which another package's
	# tests, running alongside, would otherwise seem to leave.
	go test -count=1 -p 1 -v ./... 2>&1 | hack/summarize.sh host

# The same suites inside a VM booted from Debian 12's stock kernel (cgroup v2,
# kprobes, fentry): see hack/vmtest.sh.
vmtest:
	hack/vmtest.sh

# runtime-tools' OCI validation suite against glassbox-runc (hack/oci-validation.sh;
# RUNTIME_TOOLS names the suite's source, RUNTIME another runtime to compare).
oci-validation:
	hack/oci-validation.sh

# glassbox's traces in a real backend: Jaeger, built from the Go module proxy
# as the tool of a module of its own (hack/e2e-otel: its dependencies stay out
# of glassbox's go.mod; the Go build cache keeps the build), on loopback with
# memory storage. glassbox exports to it, Jaeger's query API says what
# arrived (TestJaegerSeesTheTrace). Minutes the first time; not part of test.
e2e-otel: $(ROOTFS)/bin/busybox
	go -C hack/e2e-otel build -o $(CURDIR)/build/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
	GLASSBOX_JAEGER=$(CURDIR)/build/jaeger go test -count=1 -v -run TestJaegerSeesTheTrace ./integration

unit:
	go test -count=1 $$(go list ./... | grep -v /integration)

bench:
	hack/bench.sh

clean:
	rm -rf bin build $(ROOTFS)
