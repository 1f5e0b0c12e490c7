#!/usr/bin/env python3
"""The table and loss curves of launch/reproduce.sh, from the runs' logs (no dependencies).

    launch/reproduce_report.py RUNS_DIR OUT_DIR [STEPS]

RUNS_DIR holds one folder per run, <config>-s<seed>/log.jsonl, and <config>-s<seed>.txt, the
run's printed output (its parameter count and FLOPs per token; a run whose output does not reach
the end-of-run lines is left out). Writes OUT_DIR/table.md — per
claim, each config's final validation loss as mean ± half the spread over seeds, and the verdict
on the paper's ordering — and OUT_DIR/<claim>.png, the training loss of each config (mean over
seeds, moving average of 10 steps), one colour per config as the table lists.
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from line_plot import COLOURS, COLOUR_NAMES, line_plot  # noqa: E402

CLAIMS = {
    "a": ("sMLP vs gMLP vs Transformer-MoEs at equal FLOPs (scored after the prefix)",
          [("a_smlp_deterministic", "a_gmlp"), ("a_smlp_deterministic", "a_switch"),
           ("a_smlp_deterministic", "a_base"), ("a_smlp_deterministic", "a_hash"),
           ("a_smlp_partial", "a_switch")]),
    "b": ("gMLP heads do not help (Fig. 4)", [("b_gmlp_h1", "b_gmlp_h4"), ("b_gmlp_h1", "b_gmlp_h16")]),
    "c": ("MH-MoE h = 4 below h = 1 and the X-MoE baseline",
          [("c_mh_h4_e8", "c_mh_h1_e8"), ("c_mh_h4_e8", "c_xmoe_e8"),
           ("c_mh_h4_e32", "c_mh_h1_e32"), ("c_mh_h4_e32", "c_xmoe_e32")]),
    "d": ("M2-GPT at or below a Transformer of equal parameters; M2-BERT vs BERT (masked LM)",
          [("d_m2_gpt", "d_transformer"), ("d_m2_bert", "d_bert")]),
}

def load_runs(runs_dir):
    runs = {}
    for log in sorted(glob.glob(os.path.join(runs_dir, "*-s*", "log.jsonl"))):
        name = os.path.basename(os.path.dirname(log))
        config, seed = re.match(r"(.*)-s(\d+)$", name).groups()
        recs = [json.loads(line) for line in open(log)]
        val = [r for r in recs if "val_loss" in r]
        usage = [r["val_usage"] for r in recs if r.get("val_usage")]
        txt = os.path.join(runs_dir, name + ".txt")
        lines = open(txt, errors="replace").readlines() if os.path.exists(txt) else []
        if not any(l.startswith("# peak memory") for l in lines):
            continue  # not finished (or its output is missing)
        header = next((l for l in lines if l.startswith("# " + name)), "")
        runs.setdefault(config, []).append({
            "seed": int(seed),
            "loss": [r["loss"] for r in recs if "loss" in r],
            "val": val[-1]["val_loss"] if val else float("nan"),
            "ratio": (sum(u["activation_ratio"] for u in usage[-1]) / len(usage[-1])
                      if usage else None),
            "params": (re.search(r"(\d+) parameters", header) or [None, None])[1],
            "mflop": (re.search(r"([\d.]+) MFLOP", header) or [None, None])[1],
        })
    return runs


def stats(values):
    m = sum(values) / len(values)
    return m, (max(values) - min(values)) / 2


def verdict(runs, better, worse):
    (mb, sb), (mw, sw) = stats([r["val"] for r in runs[better]]), stats([r["val"] for r in runs[worse]])
    if mb + sb < mw - sw:
        return "holds"
    if mb < mw:
        return "holds, within the seeds' spread"
    if mb - sb <= mw + sw:
        return "level: reversed within the seeds' spread"
    return "does not hold"


def curve(losses, window=10):
    n = min(len(l) for l in losses)
    mean = [sum(l[i] for l in losses) / len(losses) for i in range(n)]
    return [sum(mean[max(0, i - window + 1):i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(n)]


def main():
    runs_dir, out_dir = sys.argv[1], sys.argv[2]
    steps = sys.argv[3] if len(sys.argv) > 3 else "?"
    os.makedirs(out_dir, exist_ok=True)
    runs = load_runs(runs_dir)
    lines = [f"# launch/reproduce.sh {steps} — final validation loss (nats/byte), mean ± half the "
             "spread over seeds", ""]
    for claim, (title, orderings) in CLAIMS.items():
        configs = [c for c in sorted(runs) if c.startswith(claim + "_")]
        if not configs:
            continue
        lo, hi = line_plot(os.path.join(out_dir, claim + ".png"), [curve([r["loss"] for r in runs[c]]) for c in configs])
        lines += [f"## ({claim}) {title}", "",
                  f"Training loss curves: `{claim}.png` (y from {lo:.2f} to {hi:.2f}).", "",
                  "| config | colour | parameters | MFLOP/token | seeds | val loss | activation ratio |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for k, c in enumerate(configs):
            m, s = stats([r["val"] for r in runs[c]])
            ratios = [r["ratio"] for r in runs[c] if r["ratio"] is not None]
            ratio = f"{stats(ratios)[0]:.3f}" if ratios else "—"
            r0 = runs[c][0]
            lines.append(f"| {c} | {COLOUR_NAMES[k % len(COLOURS)]} | {r0['params'] or '—'} | "
                         f"{r0['mflop'] or '—'} | {len(runs[c])} | {m:.3f} ± {s:.3f} | {ratio} |")
        lines += ["", "| the paper's ordering | verdict |", "|---|---|"]
        for better, worse in orderings:
            if better in runs and worse in runs:
                lines.append(f"| {better} below {worse} | {verdict(runs, better, worse)} |")
        lines.append("")
    mixer = os.path.join(runs_dir, "mixer.txt")
    if os.path.exists(mixer):
        lines += ["## (e) the mixer crossover (`switchyard bench mixer`)", "", "```",
                  open(mixer).read().rstrip(), "```", ""]
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
