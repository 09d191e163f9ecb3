#!/usr/bin/env python3
"""Extracts the C example between <!-- example:begin --> and <!-- example:end -->
in README.md into a .c file, so the build compiles exactly what the README shows."""
import re
import sys

src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
m = re.search(r"<!-- example:begin -->\s*```c\n(.*?)```\s*<!-- example:end -->", text, re.S)
if not m:
    sys.exit(f"{src}: no C example between <!-- example:begin --> and <!-- example:end -->")
with open(out, "w", encoding="utf-8") as f:
    f.write("/* Generated from README.md by tools/readme_example.py: edit the README. */\n")
    f.write(m.group(1))
