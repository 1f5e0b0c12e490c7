#!/usr/bin/env python3
"""Draw the MH-MoE paper's expert-usage heatmap from a run's log.jsonl, without dependencies.

    launch/plot_usage.py runs/<name>/log.jsonl [--out usage.png] [--step N] [--cell 24]

Reads the `val_usage` of the evaluation step N (default: the last one that has it): one row per
MoE layer, one column per expert, each cell's colour its selection frequency over the validation
pass (white 0 → dark blue at the largest frequency); a cell whose frequency does not exceed the
threshold (not activated) gets a red border. Prints the same table as text, with each layer's
activation ratio. The PNG is written with zlib alone (no matplotlib needed).
"""
import argparse
import json
import struct
import sys
import zlib


def load_usage(path, step):
    found = None
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("val_usage") and (step is None or r.get("step") == step):
                found = r
    if found is None:
        sys.exit(f"{path}: no evaluation step with val_usage" + (f" at step {step}" if step else ""))
    return found["step"], found["val_usage"]


def colour(f, top):
    t = 0.0 if top <= 0 else min(1.0, f / top)
    return (int(255 - 235 * t), int(255 - 190 * t), int(255 - 100 * t))  # white → dark blue


def heatmap_rows(usage, cell):
    experts = max(len(u["frequency"]) for u in usage)
    top = max(max(u["frequency"] or [0]) for u in usage)
    width, height = experts * cell, len(usage) * cell
    rows = []
    for y in range(height):
        u = usage[y // cell]
        row = bytearray()
        for x in range(width):
            e = x // cell
            freq = u["frequency"][e] if e < len(u["frequency"]) else 0.0
            edge = x % cell in (0, cell - 1) or y % cell in (0, cell - 1)
            inactive = freq <= u.get("threshold", 0.0)
            row += bytes((200, 30, 30) if edge and inactive else colour(freq, top))
        rows.append(bytes(row))
    return width, height, rows


def write_png(path, width, height, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 per row
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log")
    p.add_argument("--out", default="usage.png")
    p.add_argument("--step", type=int)
    p.add_argument("--cell", type=int, default=24)
    a = p.parse_args()
    step, usage = load_usage(a.log, a.step)
    print(f"# expert usage at step {step} (selection frequency over the validation pass)")
    for u in usage:
        freqs = " ".join(f"{f:.3f}" for f in u["frequency"])
        print(f"{u['layer']:>16}  activated {u['activation_ratio']:.2f} "
              f"(threshold {u.get('threshold', 0):g})  {freqs}")
    width, height, rows = heatmap_rows(usage, a.cell)
    write_png(a.out, width, height, rows)
    print(f"# wrote {a.out} ({width}×{height}: {len(usage)} layers × "
          f"{width // a.cell} experts)")


if __name__ == "__main__":
    main()
