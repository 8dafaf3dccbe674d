#!/usr/bin/env python3
"""Two builds of a bench, run alternated, compared by their fastest and
median times: how a change moves a hot path on a shared, noisy machine.
Reads divan's tree and the table of the interleaved benches (layer,
adapters: each variant's per-request median and fastest).

    cargo bench --no-run --bench verify       # in each checkout; copy each binary:
    cp target/release/deps/verify-<hash> /tmp/bins/before-verify   # and after-verify
    python3 scripts/bench-ab.py verify 30 before after [--dir /tmp/bins]

Each round runs both (the order alternates), so drift in the machine's load
falls on both alike. The fastest of all rounds is the steadiest figure; the
median of the per-round medians shows the spread.
"""
import collections
import re
import statistics
import subprocess
import sys

UNIT = {"ns": 1, "µs": 1e3, "ms": 1e6, "s": 1e9}
ROW = re.compile(
    r"^([│ ]*)[├╰]─ (\S+)\s+([\d.]+) (ns|µs|ms|s)\s+│\s+([\d.]+) (ns|µs|ms|s)\s+│\s+([\d.]+) (ns|µs|ms|s)"
)
GROUP = re.compile(r"^([│ ]*)[├╰]─ (\S+)\s*$")
# support/interleave.rs: `group  variant  per req  fastest  [over bare]`
VARIANT = re.compile(r"^(\S+)\s+(\S+)\s+([\d.]+) (ns|µs|ms)\s+([\d.]+) (ns|µs|ms)")


def run(path):
    """Each benchmark's (fastest, median) in ns, named by its path in divan's tree."""
    out = subprocess.run([path, "--bench"], capture_output=True, text=True, check=True).stdout
    found, stack = {}, []
    for line in out.splitlines():
        if m := VARIANT.match(line):
            found[f"{m.group(1)}/{m.group(2)}"] = (
                float(m.group(5)) * UNIT[m.group(6)],
                float(m.group(3)) * UNIT[m.group(4)],
            )
        elif m := ROW.match(line):
            stack = stack[: len(m.group(1)) // 3] + [m.group(2)]
            found["/".join(stack)] = (
                float(m.group(3)) * UNIT[m.group(4)],
                float(m.group(7)) * UNIT[m.group(8)],
            )
        elif m := GROUP.match(line):
            stack = stack[: len(m.group(1)) // 3] + [m.group(2)]
    return found


def main():
    args = sys.argv[1:]
    directory = "/tmp/bins"
    if "--dir" in args:
        i = args.index("--dir")
        directory = args[i + 1]
        del args[i : i + 2]
    bench, rounds, a, b = args[0], int(args[1]), args[2], args[3]
    data = {a: collections.defaultdict(list), b: collections.defaultdict(list)}
    for r in range(rounds):
        for which in (a, b) if r % 2 == 0 else (b, a):
            for name, times in run(f"{directory}/{which}-{bench}").items():
                data[which][name].append(times)
    print(f"{bench}: {rounds} rounds alternated, {a} -> {b} (ns)")
    for name, times in data[a].items():
        other = data[b].get(name)
        if not other:
            continue
        fa, fb = min(t[0] for t in times), min(t[0] for t in other)
        ma = statistics.median(t[1] for t in times)
        mb = statistics.median(t[1] for t in other)
        print(f"{name:40s} fastest {fa:8.1f} -> {fb:8.1f} ({fb / fa:5.3f})  median {ma:8.1f} -> {mb:8.1f} ({mb / ma:5.3f})")


if __name__ == "__main__":
    main()
