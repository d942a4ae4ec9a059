# glassbox — see README.md. Everything here runs as root.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0

BIN    := bin/glassbox
ROOTFS := rootfs

.PHONY: build generate demo test vmtest unit bench rootfs clean

build:
	go build -o $(BIN) ./cmd/glassbox
	go build -o $(BIN)-init ./cmd/glassbox-init

# Rebuild the BPF objects (trace/observer_bpfel.o and its Go loader) from
# trace/bpf/*.c; they are committed, so a plain build needs no clang.
generate:
	command -v clang >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ] || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang llvm libbpf-dev; }
	cd trace && go generate ./...

$(ROOTFS)/bin/busybox:
	hack/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

# The demo: a traced container on a busybox rootfs that needs no internet.
demo: build rootfs
	$(BIN) run --rm --trace --rootfs $(ROOTFS) -- sh -c 'hostname; ps; ls /'

# Unit tests and the integration suite (real containers; needs root).
test:
	go vet ./...
	go test -count=1 -v ./... 2>&1 | hack/summarize.sh host

# The same suites inside a VM booted from Debian 12's stock kernel (cgroup v2,
# kprobes, fentry): see hack/vmtest.sh.
vmtest:
	hack/vmtest.sh

unit:
	go test -count=1 $$(go list ./... | grep -v /integration)

bench:
	hack/bench.sh

clean:
	rm -rf bin $(ROOTFS)
