#!/usr/bin/env python3
"""Writes tests/golden/tensorboardx_events.bin: a TensorBoard event file written by tensorboardX
(an implementation independent of ours) with two scalars and a histogram. event_writer_test reads it
with sy::read_events, which checks every TFRecord checksum: our framing and schema against theirs.

    python3 -m venv /tmp/tbenv && /tmp/tbenv/bin/pip install tensorboardX
    /tmp/tbenv/bin/python tests/golden/make_tensorboard_fixture.py
"""
import glob
import os
import shutil
import sys
import tempfile

from tensorboardX import SummaryWriter

here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp()
w = SummaryWriter(logdir=tmp)
w.add_scalar("train/loss", 2.5, 7)
w.add_scalar("val/ppl", 12.25, 8)
# Explicit buckets: (0,1] holds 3, (1,2] holds 0, (2,3] holds 5 — an expert-load histogram.
w.add_histogram_raw("moe/load", min=0, max=3, num=8, sum=14.0, sum_squares=32.0,
                    bucket_limits=[1, 2, 3], bucket_counts=[3, 0, 5], global_step=8)
w.close()
files = glob.glob(os.path.join(tmp, "events.out.tfevents.*"))
assert len(files) == 1, files
shutil.copy(files[0], os.path.join(here, "tensorboardx_events.bin"))
shutil.rmtree(tmp)
print("wrote", os.path.join(here, "tensorboardx_events.bin"), file=sys.stderr)
