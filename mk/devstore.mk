# The local store's launcher: FerretDB v1.24.2 embedded in a small Go main
# (tools/devstore), built with the Go toolchain from the module proxy.
DEVSTORE := build/tools/devstore
EXTRA_TARGETS += $(DEVSTORE)

$(DEVSTORE): tools/devstore/main.go tools/devstore/go.mod tools/devstore/go.sum
	@mkdir -p $(dir $@)
	@echo "  GO      $@ (first build downloads FerretDB's modules)"
	$(Q)cd tools/devstore && go build -trimpath -o ../../$@ .
