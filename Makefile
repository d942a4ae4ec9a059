# glassbox — see README.md. Everything here runs as root.
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 0

BIN    := bin/glassbox
ROOTFS := rootfs

.PHONY: build demo test unit bench rootfs clean

build:
	go build -o $(BIN) ./cmd/glassbox

$(ROOTFS)/bin/busybox:
	hack/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

# The demo: a traced container on a busybox rootfs that needs no internet.
demo: build rootfs
	$(BIN) run --rm --trace --rootfs $(ROOTFS) -- sh -c 'hostname; ps; ls /'

# Unit tests and the integration suite (real containers; needs root).
test:
	go vet ./...
	go test -count=1 ./...

unit:
	go test -count=1 $$(go list ./... | grep -v /integration)

bench:
	hack/bench.sh

clean:
	rm -rf bin $(ROOTFS)
