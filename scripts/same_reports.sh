#!/usr/bin/env bash
# Do two cpd builds write the same reports? Runs both on the bundled demo
# (data/demo.toml), the analyses and inflation manifests, and the demo as
# three shards merged, and compares every file each run writes, byte for
# byte: report.json apart from its `timing` section, report.html apart from
# its time row (the only parts that differ between two identical runs).
#
# Usage: scripts/same_reports.sh OLD_CPD NEW_CPD [WORKDIR]
#   e.g. git worktree add /tmp/old HEAD~3 &&
#        (cd /tmp/old && cargo build --release) &&
#        cargo build --release &&
#        scripts/same_reports.sh /tmp/old/target/release/cpd target/release/cpd
# Exit status 0 when every file matches, 1 otherwise (each difference named).
# Both builds must read the bundled manifests: their `target` key in
# [settings] is read from commit f1382d1 on (older builds read `targets`).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1")
new=$(realpath "$2")
work=${3:-$(mktemp -d)}
mkdir -p "$work"
echo "same_reports: writing to $work" >&2

runs() { # BIN DIR
    local bin=$1 dir=$2 m i
    for m in demo analyses inflation; do
        "$bin" analyze --manifest "data/$m.toml" --out "$dir/$m" --quiet
    done
    for i in 0 1 2; do
        "$bin" analyze --manifest data/demo.toml --shard "$i/3" --out "$dir/parts/$i" --quiet
    done
    "$bin" merge "$dir"/parts/0 "$dir"/parts/1 "$dir"/parts/2 --out "$dir/merged" --quiet
}

for side in old new; do
    start=$SECONDS
    runs "${!side}" "$work/$side"
    echo "same_reports: $side (${!side}) $((SECONDS - start)) s" >&2
done

python3 - "$work/old" "$work/new" <<'EOF'
import json, os, sys

old, new = sys.argv[1], sys.argv[2]

def files(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            if not n.startswith("."):
                p = os.path.join(d, n)
                out[os.path.relpath(p, root)] = p

    return out

def content(path):
    data = open(path, "rb").read()
    name = os.path.basename(path)
    if name == "report.json":
        v = json.loads(data)
        v.pop("timing", None)
        return json.dumps(v, sort_keys=True).encode()
    if name == "report.html":
        lines = data.decode().splitlines()
        return "\n".join(l for l in lines if "<th>time</th>" not in l).encode()
    return data

a, b = files(old), files(new)
bad = [f"only in old: {n}" for n in sorted(a.keys() - b.keys())]
bad += [f"only in new: {n}" for n in sorted(b.keys() - a.keys())]
same = 0
for n in sorted(a.keys() & b.keys()):
    if content(a[n]) == content(b[n]):
        same += 1
    else:
        bad.append(f"differs: {n}")
print(f"same_reports: {same} files identical, {len(bad)} differences")
for line in bad:
    print("  " + line)
sys.exit(1 if bad else 0)
EOF
