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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="+", help="log.jsonl files, or benchmark --json files with --bench")
    ap.add_argument("--bench", action="store_true", help="the files are benchmark records")
    ap.add_argument("--out", required=True, help="folder for the PNGs")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    (plot_bench if args.bench else plot_logs)(args.files, args.out)


if __name__ == "__main__":
    main()
