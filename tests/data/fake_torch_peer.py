#!/usr/bin/env python3
"""A stand-in for launch/torch_moe_peer.py in ctest (no torch there): takes the same arguments and
writes a record whose layer_ms is 1000 ms, so `bench moe-layer --torch-peer` shows its plumbing —
the arguments, the record, the ratio line — without timing anything."""
import argparse
import json

p = argparse.ArgumentParser()
for flag in ["--device", "--dtype", "--threads", "--tokens", "--d-model", "--experts", "--top-k",
             "--d-expert", "--capacity-factor", "-n", "-w", "--json"]:
    p.add_argument(flag, required=True)
a = p.parse_args()
assert a.device == "cpu" and a.dtype in ("fp32", "bf16") and int(a.threads) >= 1
with open(a.json, "w") as f:
    f.write(json.dumps({"peer": "fake", "layer_ms": 1000.0, "threads": int(a.threads)}) + "\n")
