"""Line plots as PNG without plotting packages (the PNG writer of launch/plot_usage.py): curves in
a frame, one colour each, y scaled to the data. Used by launch/plot.py and
launch/reproduce_report.py; the caller prints the legend (colour names) and the y range."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_usage import write_png  # noqa: E402

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]
COLOUR_NAMES = ["blue", "orange", "green", "red", "purple", "brown", "pink", "grey"]


def line_plot(path, curves, width=640, height=360, skip_head=5, xs=None, log_x=False):
    """curves: lists of y values (x = index, or xs[k] per curve). The y range leaves out the first
    skip_head points of each curve (an untrained model's loss would flatten the rest). Returns
    (lo, hi), the y range drawn."""
    curves = [c for c in curves if c]
    pixels = [[(255, 255, 255)] * width for _ in range(height)]
    lo = min(min(c) for c in curves)
    hi = max(max(c[min(skip_head, len(c) - 1):]) for c in curves)
    for y in range(height):  # the frame
        pixels[y][0] = pixels[y][width - 1] = (0, 0, 0)
    for x in range(width):
        pixels[0][x] = pixels[height - 1][x] = (0, 0, 0)
    tx = (lambda v: math.log(v)) if log_x else (lambda v: v)
    all_x = [tx(v) for xv in (xs or []) for v in xv]
    x_lo, x_hi = (min(all_x), max(all_x)) if all_x else (0, 0)
    for k, c in enumerate(curves):
        colour = COLOURS[k % len(COLOURS)]
        prev = None
        for i, v in enumerate(c):
            if xs:
                frac = (tx(xs[k][i]) - x_lo) / max(1e-12, x_hi - x_lo)
            else:
                frac = i / max(1, len(c) - 1)
            x = 1 + int((width - 3) * frac)
            y = 1 + int((height - 3) * (1 - (min(v, hi) - lo) / max(1e-9, hi - lo)))
            if prev:  # a line of pixels joins the points
                steps = max(abs(x - prev[0]), abs(y - prev[1]), 1)
                for s in range(steps + 1):
                    pixels[prev[1] + (y - prev[1]) * s // steps][prev[0] + (x - prev[0]) * s // steps] = colour
            pixels[y][x] = colour
            prev = (x, y)
    write_png(path, width, height, [bytes(v for p in row for v in p) for row in pixels])
    return lo, hi
