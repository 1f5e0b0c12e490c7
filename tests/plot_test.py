#!/usr/bin/env python3
"""launch/plot.py end to end on synthetic records: a falling loss is drawn falling (the first
point high, the last low), a balanced layer's load curve sits at the bottom of its plot and a
skewed one above it, the scaling plot draws ours and the baseline, and a sweep's strong-scaling
efficiency is drawn at 1 for perfect scaling and below it for a flat step time."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from plot_usage_test import read_png  # noqa: E402

SCRIPT = os.path.join(HERE, "..", "launch", "plot.py")
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)


def rows_with(pixel, width, height, colour, x):
    return [y for y in range(height) if pixel(x, y) == colour]


def main():
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        with open(log, "w") as f:
            for step in range(1, 41):
                f.write(json.dumps({"step": step, "loss": 5.0 - step / 10, "lr": 1e-3,
                                    "moe": [{"layer": "b0", "load": [4, 4, 4, 4]},
                                            {"layer": "b1", "load": [13, 1, 1, 1]}]}) + "\n")
        bench = os.path.join(d, "a2a.jsonl")
        with open(bench, "w") as f:
            for b in (1024, 4096, 16384):
                f.write(json.dumps({"bytes": str(b), "busbw_gbs": b / 4096, "time_us": 2.0,
                                    "baseline_time_us": 4.0, "baseline": "MPI"}) + "\n")
        out = os.path.join(d, "png")
        subprocess.run([sys.executable, SCRIPT, log, "--out", out], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, SCRIPT, "--bench", bench, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        w, h, pixel = read_png(os.path.join(out, "loss.png"))
        first, last = rows_with(pixel, w, h, BLUE, 1), rows_with(pixel, w, h, BLUE, w - 2)
        assert first and last and min(first) < min(last), "the loss must be drawn falling"
        w, h, pixel = read_png(os.path.join(out, "load.png"))
        balanced, skewed = rows_with(pixel, w, h, BLUE, w // 2), rows_with(pixel, w, h, ORANGE, w // 2)
        assert balanced and skewed and min(skewed) < min(balanced), "load 3.25 above load 1"
        w, h, pixel = read_png(os.path.join(out, "scaling.png"))
        assert rows_with(pixel, w, h, BLUE, w // 2) and rows_with(pixel, w, h, ORANGE, w // 2)
        sweep = os.path.join(d, "sweep.csv")
        with open(sweep, "w") as f:  # measured: no speed-up; projected: perfect strong scaling
            f.write("mode,ranks,global_batch,ep,measured_ms,projected_ms,measured_tokens_per_s,"
                    "projected_tokens_per_s\n")
            for n in (1, 2, 4):
                f.write(f"strong,{n},4,{n},100,{100 / n},40,{40 * n}\n")
        subprocess.run([sys.executable, SCRIPT, "--sweep", sweep, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        w, h, pixel = read_png(os.path.join(out, "efficiency.png"))
        measured, projected = rows_with(pixel, w, h, BLUE, w - 2), rows_with(pixel, w, h, ORANGE, w - 2)
        assert measured and projected and min(projected) < min(measured), "1 above 0.25"
        assert os.path.exists(os.path.join(out, "throughput.png"))
    print("plot: ok")


if __name__ == "__main__":
    main()
