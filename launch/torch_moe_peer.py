#!/usr/bin/env python3
"""The PyTorch peer of `switchyard bench moe-layer`: the same MoE layer in plain PyTorch (eager,
autograd), timed forward + backward on one device, so a benchmark can put Switchyard's layer
beside it in the same run.

The layer is the benchmark's default one: a top-k softmax gate (raw softmax probabilities as the
combine weights), capacity ceil(cf * k * T / E) per expert with first choices before second ones
and then token order (GShard's priority, as Switchyard's), FFN experts y = GELU(x W1) W2 (tanh
GELU, no biases), the k expert outputs summed with their gate weights. Experts run as one batched
GEMM over an (E, capacity, d) buffer — the usual eager formulation (GShard, Tutel's reference).

    python3 launch/torch_moe_peer.py --device cuda --dtype bf16 --tokens 16384 --d-model 1024 \
        --experts 16 --d-expert 2048 --json peer.json

Prints one line with the time and writes a JSON record (--json). Needs only torch.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                   help="parameters and activations; the gate's softmax runs in fp32 either way")
    p.add_argument("--tokens", type=int, default=2048)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--top-k", type=int, default=2)
    p.add_argument("--d-expert", type=int, default=1024)
    p.add_argument("--capacity-factor", type=float, default=1.25)
    p.add_argument("-n", "--iters", type=int, default=10)
    p.add_argument("-w", "--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--json", default="")
    return p.parse_args()


class MoeLayer(torch.nn.Module):
    def __init__(self, d, experts, k, hidden, cf, dtype, device):
        super().__init__()
        self.e, self.k, self.cf = experts, k, cf
        g = torch.Generator().manual_seed(1234)

        def param(*shape, fan_in):
            w = torch.randn(*shape, generator=g) / math.sqrt(fan_in)
            return torch.nn.Parameter(w.to(device=device, dtype=dtype))

        self.gate = param(d, experts, fan_in=d)
        self.w1 = param(experts, d, hidden, fan_in=d)
        self.w2 = param(experts, hidden, d, fan_in=hidden)

    def forward(self, x):
        t, d = x.shape
        probs = torch.softmax((x @ self.gate).float(), dim=-1)           # (T, E), fp32
        weight, expert = probs.topk(self.k, dim=-1)                       # (T, k)
        capacity = math.ceil(self.cf * self.k * t / self.e)
        # Priority: choice-major (all first choices, then second ones), token order within.
        flat = expert.t().reshape(-1)                                     # (k·T)
        onehot = F.one_hot(flat, self.e)
        slot = (onehot.cumsum(0) * onehot).sum(-1) - 1                    # position in its expert
        keep = slot < capacity
        token = torch.arange(t, device=x.device).repeat(self.k)
        rows = flat[keep] * capacity + slot[keep]                         # (E·C) buffer rows
        buf = x.new_zeros(self.e * capacity, d)
        buf[rows] = x[token[keep]]
        h = F.gelu(torch.bmm(buf.view(self.e, capacity, d), self.w1), approximate="tanh")
        y = torch.bmm(h, self.w2).view(self.e * capacity, d)
        w = weight.t().reshape(-1)[keep].to(x.dtype).unsqueeze(1)
        out = x.new_zeros(t, d)
        out.index_add_(0, token[keep], y[rows] * w)
        return out


def main():
    a = parse()
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    dev = torch.device(a.device)
    layer = MoeLayer(a.d_model, a.experts, a.top_k, a.d_expert, a.capacity_factor, dtype, dev)
    x = torch.randn(a.tokens, a.d_model, device=dev, dtype=dtype, requires_grad=True)
    dy = torch.randn(a.tokens, a.d_model, device=dev, dtype=dtype)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step():
        out = layer(x)
        out.backward(dy)

    for _ in range(a.warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.iters):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / a.iters
    record = {"peer": "torch-eager", "torch": torch.__version__, "device": str(dev),
              "dtype": a.dtype, "tokens": a.tokens, "d_model": a.d_model, "experts": a.experts,
              "top_k": a.top_k, "d_expert": a.d_expert, "capacity_factor": a.capacity_factor,
              "threads": torch.get_num_threads(), "layer_ms": seconds * 1e3,
              "tokens_per_s": a.tokens / seconds}
    print(f"torch peer ({record['torch']}, {dev}, {a.dtype}): layer forward+backward "
          f"{seconds * 1e3:.2f} ms, {a.tokens / seconds:.0f} tokens/s "
          f"(T {a.tokens}, d {a.d_model}, E {a.experts}, k {a.top_k}, F {a.d_expert}, "
          f"cf {a.capacity_factor})")
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
