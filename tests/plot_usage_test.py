#!/usr/bin/env python3
"""launch/plot_usage.py end to end: a log with two evaluation records; the heatmap of the last one
has one row per layer and one column per expert, the most selected expert darkest, and a red
border exactly on the cells at or below the threshold."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "launch", "plot_usage.py")


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    rows = [raw[y * stride + 1:(y + 1) * stride] for y in range(height)]
    return width, height, lambda x, y: tuple(rows[y][3 * x:3 * x + 3])


def main():
    usage = lambda f: [{"layer": "block0.moe", "activation_ratio": 0.5, "threshold": 0.1,
                        "frequency": f, "items": 10},
                       {"layer": "block1.moe", "activation_ratio": 1.0, "threshold": 0.1,
                        "frequency": [0.5, 0.5, 0.5, 0.5], "items": 10}]
    with tempfile.TemporaryDirectory() as d:
        log, png = os.path.join(d, "log.jsonl"), os.path.join(d, "u.png")
        with open(log, "w") as f:
            f.write(json.dumps({"step": 10, "val_usage": usage([1, 0, 0, 1])}) + "\n")
            f.write(json.dumps({"step": 11, "loss": 2.0}) + "\n")
            f.write(json.dumps({"step": 20, "val_usage": usage([1.4, 0.5, 0.05, 0.1])}) + "\n")
        subprocess.run([sys.executable, SCRIPT, log, "--out", png, "--cell", "10"], check=True,
                       stdout=subprocess.DEVNULL)
        width, height, pixel = read_png(png)
        assert (width, height) == (40, 20), (width, height)
        centre = lambda layer, e: pixel(10 * e + 5, 10 * layer + 5)
        edge = lambda layer, e: pixel(10 * e, 10 * layer + 5)
        darkest = min(range(4), key=lambda e: sum(centre(0, e)))
        assert darkest == 0, f"expert 0 (frequency 1.4) must be darkest, got {darkest}"
        red = (200, 30, 30)
        assert edge(0, 2) == red and edge(0, 3) == red, "0.05 and 0.1 do not exceed 0.1"
        assert edge(0, 0) != red and edge(0, 1) != red and edge(1, 3) != red
    print("plot_usage: ok")


if __name__ == "__main__":
    main()
