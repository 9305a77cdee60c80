# The local store's launcher: FerretDB v1.24.2 embedded in a small Go main
# (tools/devstore, docs/store.md). The first build fetches FerretDB's modules
# through the Go toolchain's own module settings (GOPROXY, GOPATH, GOCACHE as
# the environment has them); go.sum pins every one of them.
DEVSTORE := build/tools/devstore
DEVSTORE_SRC := $(wildcard tools/devstore/*.go) tools/devstore/go.mod \
	tools/devstore/go.sum
EXTRA_TARGETS += $(DEVSTORE)

$(DEVSTORE): $(DEVSTORE_SRC)
	@mkdir -p $(dir $@)
	@echo "  GO      $@"
	$(Q)cd tools/devstore && go build -trimpath -buildvcs=false \
		-o $(CURDIR)/$@ .
