#!/usr/bin/env python3
"""Score the gateway's PII redaction on presidio-research's labelled sentences.

Usage: pii_eval.py DATA.json -- COMMAND [ARG...]   (COMMAND: gateway --guard)

Every sentence goes through COMMAND as {"text": ...}; its "redacted" answer
is compared with the labelled spans. A labelled value of a kind the gateway
redacts (CREDIT_CARD, EMAIL_ADDRESS, PHONE_NUMBER, IBAN_CODE, US_SSN,
IP_ADDRESS) counts as found when it no longer appears in the redacted text.
False positives: placeholders beyond the labelled values found, over all
placeholders; and sentences without such a value that lost anything.
Prints per-kind recall, the misses (with --verbose) and a summary line.
"""
import json
import re
import subprocess
import sys
from collections import Counter

KINDS = {"CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE",
         "US_SSN", "IP_ADDRESS"}
PLACEHOLDER = re.compile(r"\[(SECRET|EMAIL|IBAN|CARD|SSN|IP|PHONE|PASSWORD)\]")


def main():
    args = sys.argv[1:]
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    if len(args) < 3 or args[1] != "--":
        sys.exit(__doc__)
    rows = json.load(open(args[0], encoding="utf-8"))
    inp = "".join(json.dumps({"text": r["full_text"]}, ensure_ascii=False)
                  + "\n" for r in rows)
    out = subprocess.run(args[2:], input=inp, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == len(rows), (len(out), len(rows))
    found, total = Counter(), Counter()
    placeholders = explained = clean_rows = clean_hit = blocked = 0
    misses, extras = [], []
    for r, line in zip(rows, out):
        a = json.loads(line)
        red = a.get("redacted")
        if a["action"] != "allow" or red is None:
            blocked += 1
            continue
        gold = [s for s in r["spans"] if s["entity_type"] in KINDS]
        n_ph = len(PLACEHOLDER.findall(red))
        placeholders += n_ph
        got = 0
        for s in gold:
            total[s["entity_type"]] += 1
            if s["entity_value"].strip() not in red:
                found[s["entity_type"]] += 1
                got += 1
            else:
                misses.append((s["entity_type"], s["entity_value"]))
        explained += min(got, n_ph)
        if n_ph > got:
            extras.append((red, [s["entity_type"] for s in r["spans"]]))
        if not gold:
            clean_rows += 1
            clean_hit += n_ph > 0
    print(f"{'kind':<15} {'found':>6} {'of':>5} {'recall':>7}")
    for k in sorted(total):
        print(f"{k:<15} {found[k]:6d} {total[k]:5d} {found[k] / total[k]:7.3f}")
    if verbose:
        for k, v in misses:
            print(f"  miss {k}: {v!r}")
        for red, kinds in extras:
            print(f"  extra ({','.join(kinds) or '-'}): {red[:160]!r}")
    f_all, t_all = sum(found.values()), sum(total.values())
    fp = placeholders - explained
    print(f"\npii_recall={f_all / t_all:.4f} ({f_all}/{t_all}) "
          f"false_positive_rate={fp / max(placeholders, 1):.4f} "
          f"({fp}/{placeholders} placeholders) "
          f"clean_sentences_touched={clean_hit / max(clean_rows, 1):.4f} "
          f"({clean_hit}/{clean_rows}) blocked={blocked}")


main()
