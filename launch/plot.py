#!/usr/bin/env python3
"""PNG plots of training logs and benchmark records (no plotting packages: launch/line_plot.py).

    launch/plot.py runs/a/log.jsonl [runs/b/log.jsonl ...] --out DIR
        DIR/loss.png  training loss of each log (moving average of 10 steps)
        DIR/val.png   validation loss at each evaluation
        DIR/lr.png    the learning rate
        DIR/load.png  per MoE layer of the first log: the busiest expert's items over the mean
                      (1 = balanced), every step
    launch/plot.py --bench alltoall.jsonl [...] --out DIR
        DIR/scaling.png  `bench alltoall --json`: bus bandwidth against bytes per rank (log x),
                         ours and the baseline of each file
    launch/plot.py --sweep sweep.csv --out DIR
        DIR/throughput.png  launch/sweep.sh: tokens/s against ranks, measured and projected by the
                            planner, strong and weak scaling
        DIR/efficiency.png  scaling efficiency (strong: T1 / (N TN), weak: T1 / TN), the same four

Prints which colour is which and the y range of each plot.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from line_plot import COLOUR_NAMES, line_plot  # noqa: E402


def read_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def number(v):
    return float(v)  # protobuf's JSON writes 64-bit integers, NaN and infinities as strings


def smooth(values, window=10):
    return [sum(values[max(0, i - window + 1):i + 1]) / (i + 1 - max(0, i - window + 1))
            for i in range(len(values))]


def imbalance(layer):
    load = [number(x) for x in layer.get("load", [])]
    return max(load) / (sum(load) / len(load)) if load and sum(load) > 0 else 1.0


def report(path, names, lo, hi, what):
    legend = ", ".join(f"{COLOUR_NAMES[k % len(COLOUR_NAMES)]} = {n}" for k, n in enumerate(names))
    print(f"{path}: {what}, y from {lo:.4g} to {hi:.4g}; {legend}")


def plot_logs(logs, out):
    runs = {p: read_records(p) for p in logs}
    names = list(runs)
    loss = [smooth([number(r["loss"]) for r in runs[p] if "loss" in r]) for p in names]
    lo, hi = line_plot(os.path.join(out, "loss.png"), loss)
    report(os.path.join(out, "loss.png"), names, lo, hi, "training loss")
    val = [[number(r["val_loss"]) for r in runs[p] if "val_loss" in r] for p in names]
    if any(len(v) > 1 for v in val):
        lo, hi = line_plot(os.path.join(out, "val.png"), val, skip_head=0)
        report(os.path.join(out, "val.png"), names, lo, hi, "validation loss")
    lr = [[number(r["lr"]) for r in runs[p] if "lr" in r] for p in names]
    lo, hi = line_plot(os.path.join(out, "lr.png"), lr, skip_head=0)
    report(os.path.join(out, "lr.png"), names, lo, hi, "learning rate")
    first = runs[names[0]]
    layers = [m["layer"] for m in first[0].get("moe", [])] if first else []
    if layers:
        load = [[imbalance(r["moe"][i]) for r in first if len(r.get("moe", [])) > i]
                for i in range(len(layers))]
        lo, hi = line_plot(os.path.join(out, "load.png"), load, skip_head=0)
        report(os.path.join(out, "load.png"), layers, lo, hi, "busiest expert / mean")


def plot_bench(files, out):
    curves, xs, names = [], [], []
    for p in files:
        rows = [r for r in read_records(p) if "bytes" in r and "busbw_gbs" in r]
        size = [number(r["bytes"]) for r in rows]
        ours = [number(r["busbw_gbs"]) for r in rows]
        base = [number(r["busbw_gbs"]) * number(r["time_us"]) / number(r["baseline_time_us"])
                for r in rows if number(r.get("baseline_time_us", 0)) > 0]
        curves += [ours, base]
        xs += [size, size[:len(base)]]
        label = os.path.basename(p)
        names += [f"{label} (ours)", f"{label} ({rows[0].get('baseline', 'baseline') if rows else ''})"]
    lo, hi = line_plot(os.path.join(out, "scaling.png"), curves, xs=xs, log_x=True, skip_head=0)
    report(os.path.join(out, "scaling.png"), names, lo, hi, "bus bandwidth GB/s against bytes per rank")


def sweep_curves(rows, mode, column):
    """(ranks, values) of one mode's column, in rank order."""
    picked = sorted((int(r["ranks"]), float(r[column])) for r in rows if r["mode"] == mode)
    return [n for n, _ in picked], [v for _, v in picked]


def efficiency(ranks, step_ms, mode):
    t1 = step_ms[0] * ranks[0] if mode == "strong" else step_ms[0]
    return [t1 / (n * t if mode == "strong" else t) for n, t in zip(ranks, step_ms)]


def plot_sweep(files, out):
    import csv
    rows = [r for p in files for r in csv.DictReader(open(p))]
    tput, eff, xs, names = [], [], [], []
    for mode in ("strong", "weak"):
        for source in ("measured", "projected"):
            ranks, tps = sweep_curves(rows, mode, f"{source}_tokens_per_s")
            _, ms = sweep_curves(rows, mode, f"{source}_ms")
            if not ranks:
                continue
            tput.append(tps)
            eff.append(efficiency(ranks, ms, mode))
            xs.append([float(n) for n in ranks])
            names.append(f"{mode}, {source}")
    lo, hi = line_plot(os.path.join(out, "throughput.png"), tput, xs=xs, skip_head=0)
    report(os.path.join(out, "throughput.png"), names, lo, hi, "tokens/s against ranks")
    lo, hi = line_plot(os.path.join(out, "efficiency.png"), eff, xs=xs, skip_head=0)
    report(os.path.join(out, "efficiency.png"), names, lo, hi, "scaling efficiency against ranks")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="+", help="log.jsonl files, or benchmark --json files with --bench")
    ap.add_argument("--bench", action="store_true", help="the files are benchmark records")
    ap.add_argument("--sweep", action="store_true", help="the files are launch/sweep.sh CSVs")
    ap.add_argument("--out", required=True, help="folder for the PNGs")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    (plot_sweep if args.sweep else plot_bench if args.bench else plot_logs)(args.files, args.out)


if __name__ == "__main__":
    main()
