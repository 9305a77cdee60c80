#!/usr/bin/env python3
"""Regenerate the variable table of docs/configuration.md from `--help`.

Run after adding a variable to common/config.c (the table lives between the
BEGIN/END markers); an integration test fails while a variable is missing.
"""
import collections
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(TOP, os.environ.get("BIN_DIR", "build/bin"))
SERVICES = ["gateway", "intent-agent", "support-agent", "escalation", "metrics"]

rows = collections.OrderedDict()
for svc in SERVICES:
    out = subprocess.run([os.path.join(BIN, svc), "--help"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    for i, line in enumerate(out[:-1]):
        m = re.match(r"  ([A-Z][A-Z0-9_]+)\s+(.*)", line)
        if m and "default:" in out[i + 1]:
            default = out[i + 1].split("default:", 1)[1].strip()
            rows.setdefault(m.group(1), [m.group(2), default, []])[2].append(svc)

table = ["| variable | default | used by | meaning |", "|---|---|---|---|"]
for name, (text, default, used) in rows.items():
    who = "all" if len(used) == len(SERVICES) else ", ".join(used)
    table.append(f"| `{name}` | `{default}` | {who} | {text} |")

path = os.path.join(TOP, "docs", "configuration.md")
doc = open(path).read()
begin, end = "<!-- BEGIN variables -->", "<!-- END variables -->"
if begin not in doc:
    sys.exit("configuration.md has no variable markers")
head, rest = doc.split(begin, 1)
tail = rest.split(end, 1)[1]
open(path, "w").write(head + begin + "\n" + "\n".join(table) + "\n" + end + tail)
