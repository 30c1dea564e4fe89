#!/bin/bash
# JS heap (after a full collection) per idle connection in `bench/run.ts connect --targets switchboard`:
# the live heap and object counts at the first sample holding every connection, minus the first sample.
# Usage (from the repository root): bench/tools/heap-per-conn.sh
set -e
DIR=.tmp/heap-stats
rm -rf "$DIR"; mkdir -p "$DIR"
BENCH_SERVER_FLAGS="--preload ./bench/tools/heap-stats-preload.ts" npx bun bench/run.ts connect --targets switchboard --no-save 2>&1 | grep -o '"rssPerConnBytes":[0-9]*' || true
python3 - "$DIR" <<'PY'
import json, glob, sys
fs = sorted([json.load(open(f)) for f in glob.glob(sys.argv[1] + "/heap-*.json")], key=lambda d: d["t"])
full = [d for d in fs if d["counts"].get("ServerWebSocket", 0) >= 15000]
a, b = fs[0], min(full, key=lambda d: d["heapSize"])
n = b["counts"]["ServerWebSocket"]
print("JS heap per connection: %.0f B;" % ((b["heapSize"] - a["heapSize"]) / n), ", ".join("%s %.2f" % (k, (b["counts"].get(k, 0) - a["counts"].get(k, 0)) / n) for k in ["string", "Object", "Array"]), "per connection")
PY
rm -rf "$DIR"
