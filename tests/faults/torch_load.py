#!/usr/bin/env python3
"""Loads a `switchyard ckpt export` file into PyTorch (run by a Python with torch and safetensors,
from run_faults.py's export case): every tensor arrives under its name with the shape and dtype
(float32) the safetensors reader saw, and an expert's weights compute: one token through global
expert 0's FFN (GELU) gives finite values.

    torch_load.py FILE '{"name": [shape...], ...}'
"""
import json
import sys

import torch
from safetensors.torch import load_file


def main():
    path, expected = sys.argv[1], json.loads(sys.argv[2])
    tensors = load_file(path)
    assert set(tensors) == set(expected), "names differ: %s" % (set(tensors) ^ set(expected))
    for name, shape in expected.items():
        t = tensors[name]
        assert list(t.shape) == shape and t.dtype == torch.float32, (name, t.shape, t.dtype)
    w1 = next(tensors[n] for n in sorted(tensors) if n.endswith(".experts.w1.0"))
    w2 = next(tensors[n] for n in sorted(tensors) if n.endswith(".experts.w2.0"))
    y = torch.nn.functional.gelu(torch.randn(1, w1.shape[0]) @ w1) @ w2
    assert torch.isfinite(y).all() and y.shape == (1, w1.shape[0])
    print("torch %s: %d tensors loaded; expert 0's FFN computes" % (torch.__version__, len(tensors)))


if __name__ == "__main__":
    main()
