#!/usr/bin/env python3
"""Fault injection against whole `switchyard train` jobs (issue 14; ctest label `faults`).

Each case runs small 2-rank jobs under mpirun, injects one fault and checks what a user would:
the job ends (never hangs: every wait has a deadline), with the documented exit code and message,
and no complete checkpoint is lost — the latest one loads and training continues from it.

  run_faults.py --bin build/launch/switchyard --mpirun "mpirun --oversubscribe" CASE

Exit 0: the case held; 1: it did not (the reason printed); 77: it cannot run here (the reason
printed; ctest shows it as skipped).
"""
import argparse
import glob
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXIT_STOPPED = 75  # runtime/train/stop_signals.h
DEADLINE_S = 120
LONG = 1000000  # steps of a job that only a fault ends
MODEL = ("model { family: TRANSFORMER_MOE vocab_size: 256 seq_len: 128 d_model: 96 n_heads: 2 "
         "n_layers: 2 d_ff: 192 moe { num_experts: 4 top_k: 2 d_expert: 96 } } "
         "data { global_batch: 8 } optimizer { lr: 3e-3 } "
         "schedule { warmup_steps: 2 eval_every: 0 eval_batches: 1 } logging { log_every: 1 sample_tokens: 0 } "
         "parallel { ep: 2 }")


class Failed(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Env:
    def __init__(self, args, work):
        self.bin = os.path.abspath(args.bin)
        self.mpirun = shlex.split(args.mpirun)
        self.work = work
        self.config = os.path.join(work, "model.pbtxt")
        with open(self.config, "w") as f:
            f.write(MODEL)
        self.data = os.path.join(work, "data")
        self.prepare()

    def prepare(self):
        text = os.path.join(self.work, "corpus.txt")
        rng = random.Random(7)
        words = ["expert", "router", "token", "rank", "layer", "capacity", "gate", "step"]
        with open(text, "w") as f:
            for _ in range(4000):
                f.write(" ".join(rng.choice(words) for _ in range(12)) + ".\n")
        run([self.bin, "prepare", "--out", self.data, text], timeout=60, expect=0)

    def train_cmd(self, name, steps, *sets, logdir=None, resume=None):
        cmd = self.mpirun + ["-np", "2", "-x", "OPENBLAS_NUM_THREADS=1", "-x",
                             "SY_COMM_TIMEOUT_S=30", self.bin, "train", self.config]
        sets = ["name=" + name, "logging.dir=" + (logdir or self.work),
                "data.train_path=" + self.data + "/train.bin",
                "data.val_path=" + self.data + "/val.bin", "schedule.steps=%d" % steps] + list(sets)
        for s in sets:
            cmd += ["--set", s]
        if resume:
            cmd += ["--resume", resume]
        return cmd

    def run_dir(self, name, logdir=None):
        return os.path.join(logdir or self.work, name)


def run(cmd, timeout=DEADLINE_S, expect=None):
    """Runs to the end within the deadline; returns (exit code, output)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise Failed("%s exited %d, expected %d:\n%s" % (cmd[-1], p.returncode, expect,
                                                         p.stdout[-3000:]))
    return p.returncode, p.stdout


JOBS = []  # every background job, killed when the case ends however it ends


class Job:
    """A job in the background, with its output in a file."""

    def __init__(self, cmd, out_path):
        JOBS.append(self)
        self.out_path = out_path
        self.out = open(out_path, "w")
        self.p = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def wait_for_step(self, run_dir, step, timeout=DEADLINE_S):
        """Until the job's log.jsonl (written and flushed step by step, unlike the console output
        mpirun forwards) has reached `step`."""
        path = os.path.join(run_dir, "log.jsonl")
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(path) and os.path.getsize(path) > 0:
                with open(path, "rb") as f:
                    lines = f.read().count(b"\n")
                if lines >= step:
                    return
            if self.p.poll() is not None:
                raise Failed("the job ended before step %d:\n%s" % (step, self.output()[-3000:]))
            time.sleep(0.02)
        raise Failed("no step %d within %d s" % (step, timeout))

    def kill_all(self):
        """kill -9 of the whole job: the ranks (each in its own process group) and mpirun."""
        for pid in self.ranks() + [self.p.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def ranks(self):
        """The rank processes (mpirun's children)."""
        out = subprocess.run(["pgrep", "-P", str(self.p.pid)], stdout=subprocess.PIPE, text=True)
        return [int(x) for x in out.stdout.split()]

    def finish(self, timeout=DEADLINE_S):
        try:
            code = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise Failed("the job hung: still running %d s after the fault" % timeout)
        self.out.close()
        return code, self.output()


def losses(run_dir):
    out = {}
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            out[r["step"]] = r["loss"]
    return out


def latest_step(run_dir):
    with open(os.path.join(run_dir, "checkpoints", "latest")) as f:
        return int(f.read().strip().split("_")[1])


def stop_and_resume(env, name, send):
    """A job stopped by a signal writes a checkpoint, exits 75, and resuming it gives the exact loss
    curve of a job that was never stopped."""
    steps = 60
    run(env.train_cmd(name + "-straight", steps), expect=0)
    job = Job(env.train_cmd(name, steps), os.path.join(env.work, name + ".out"))
    job.wait_for_step(env.run_dir(name), 6)
    send(job)
    code, out = job.finish()
    check(code == EXIT_STOPPED, "exit code %d, expected %d:\n%s" % (code, EXIT_STOPPED, out[-3000:]))
    check("# stopped after step" in out, "no stop message:\n" + out[-2000:])
    stopped = latest_step(env.run_dir(name))
    check(6 <= stopped < steps, "checkpoint at step %d" % stopped)
    run(env.train_cmd(name, steps, resume=env.run_dir(name) + "/checkpoints"), expect=0)
    want, got = losses(env.run_dir(name + "-straight")), losses(env.run_dir(name))
    check(sorted(got) == list(range(1, steps + 1)), "log steps %s" % sorted(got))
    for s in range(1, steps + 1):
        check(got[s] == want[s], "step %d: loss %r after resume, %r uninterrupted" % (s, got[s], want[s]))
    print("stopped at step %d by the signal, resumed: all %d losses equal" % (stopped, steps))


def case_sigterm_one_rank(env):
    # Slurm signals every task; one rank's signal alone must stop the whole job.
    stop_and_resume(env, "sigterm", lambda job: os.kill(job.ranks()[1], signal.SIGTERM))


def case_sigusr1_mpirun(env):
    # mpirun forwards SIGUSR1 to its ranks (what `sbatch --signal=B:USR1@120` reaches).
    stop_and_resume(env, "sigusr1", lambda job: os.kill(job.p.pid, signal.SIGUSR1))


def case_kill9_rank(env):
    name = "kill9"
    job = Job(env.train_cmd(name, LONG, "schedule.ckpt_every=2"), os.path.join(env.work, "k.out"))
    job.wait_for_step(env.run_dir(name), 7)
    os.kill(job.ranks()[1], signal.SIGKILL)
    code, _ = job.finish()
    check(code != 0, "the job must fail when a rank dies")
    at = latest_step(env.run_dir(name))
    run(env.train_cmd(name, at + 2, resume=env.run_dir(name) + "/checkpoints"), expect=0)
    print("kill -9 of rank 1: the job ended (exit %d); resumed from step %d" % (code, at))


def case_kill9_mid_save(env):
    # A checkpoint every step, the whole job killed at random moments: `latest` always names a
    # complete checkpoint that loads.
    name = "midsave"
    rng = random.Random(3)
    for attempt in range(4):
        if os.path.exists(env.run_dir(name)):
            os.remove(os.path.join(env.run_dir(name), "log.jsonl"))
        job = Job(env.train_cmd(name, LONG, "schedule.ckpt_every=1"),
                  os.path.join(env.work, "m%d.out" % attempt))
        job.wait_for_step(env.run_dir(name), 2)
        time.sleep(rng.uniform(0.0, 0.5))
        job.kill_all()
        job.finish()
        at = latest_step(env.run_dir(name))
        run(env.train_cmd(name, at + 1, resume=env.run_dir(name) + "/checkpoints"), expect=0)
        print("attempt %d: killed, latest step_%d loaded and trained on" % (attempt, at))


def case_two_jobs(env):
    name = "shared"
    first = Job(env.train_cmd(name, LONG), os.path.join(env.work, "first.out"))
    first.wait_for_step(env.run_dir(name), 2)
    code, out = run(env.train_cmd(name, LONG))
    check(code != 0 and "is in use by another job (pid" in out,
          "the second job must refuse (exit %d):\n%s" % (code, out[-2000:]))
    os.kill(first.p.pid, signal.SIGUSR1)
    code, _ = first.finish()
    check(code == EXIT_STOPPED, "the first job must be undisturbed (exit %d)" % code)
    print("a second job on the folder refused, naming the holder; the first went on")


def corrupt_and_expect(env, name, damage, needle):
    run(env.train_cmd(name, 3), expect=0)
    folder = os.path.join(env.run_dir(name), "checkpoints", "step_3")
    damage(folder)
    code, out = run(env.train_cmd(name + "-again", 6, resume=folder))
    check(code != 0 and needle in out, "loading must refuse with %r (exit %d):\n%s" %
          (needle, code, out[-2000:]))
    print("%s: refused with %r" % (name, needle))


def case_corruption(env):
    def flip(path, at=100):
        with open(path, "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x40]))

    def truncate(folder):
        path = glob.glob(folder + "/*.expert2.bin")[0]
        os.truncate(path, os.path.getsize(path) // 2)

    def edit_manifest(folder):
        path = folder + "/manifest.pbtxt"
        text = open(path).read().replace("step: 3\n", "step: 2\n", 1)
        open(path, "w").write(text)

    corrupt_and_expect(env, "flipped", lambda d: flip(d + "/dense.bin"), "is corrupt")
    corrupt_and_expect(env, "truncated", truncate, "is corrupt")
    corrupt_and_expect(env, "missing", lambda d: os.remove(glob.glob(d + "/*.expert1.bin")[0]),
                       "is missing")
    corrupt_and_expect(env, "edited", edit_manifest, "does not match its own checksum")
    run(env.train_cmd("mismatch", 3), expect=0)
    code, out = run(env.train_cmd("mismatch-b", 6, "model.moe.num_experts=8",
                                  resume=env.run_dir("mismatch") + "/checkpoints"))
    check(code != 0 and "model.moe.num_experts: 4 in the checkpoint, 8 now" in out,
          "a checkpoint of another model must be refused:\n" + out[-2000:])
    print("mismatch: refused, naming model.moe.num_experts")


def case_eval_and_ckpt_tools(env):
    # Not a fault: the tools a user reaches for after one (eval, ckpt inspect, ckpt verify).
    run(env.train_cmd("tools", 3), expect=0)
    ckpt = env.run_dir("tools") + "/checkpoints"
    evaluate = env.train_cmd("tools-eval", 3)
    evaluate[evaluate.index("train")] = "eval"
    code, out = run(evaluate + ["--checkpoint", ckpt, "--batches", "2"], expect=0)
    check("val loss" in out and "over 2 batches" in out, "eval:\n" + out[-2000:])
    check(not os.path.exists(env.run_dir("tools-eval")), "eval must write nothing")
    generate = env.train_cmd("tools-gen", 3)
    generate[generate.index("train")] = "generate"
    generate += ["--checkpoint", ckpt, "--prompt", "The ", "--tokens", "20", "--temperature", "0",
                 "--samples", "2"]
    outs = [run(generate, expect=0)[1] for _ in range(2)]
    check("# 20 tokens in" in outs[0] and outs[0].count("The ") >= 1, "generate:\n" + outs[0])
    texts = [o[o.index("The "):o.index("# 20 tokens")] for o in outs]
    check(texts[0] == texts[1], "greedy generation must repeat: %r vs %r" % tuple(texts))
    check("\n# sample 2 (seed 2)\nThe " in outs[0], "--samples 2 prints rank 1's:\n" + outs[0][-1000:])
    code, out = run([env.bin, "ckpt", "inspect", ckpt], expect=0)
    check("step 3 (optimizer steps 3)" in out and "TRANSFORMER_MOE" in out, "inspect:\n" + out)
    code, out = run([env.bin, "ckpt", "verify", ckpt], expect=0)
    check(": intact" in out, "verify:\n" + out)
    path = glob.glob(ckpt + "/step_3/*.expert2.bin")[0]
    with open(path, "r+b") as f:
        f.seek(10)
        f.write(b"\xff")
    code, out = run([env.bin, "ckpt", "verify", ckpt])
    check(code == 1 and "DAMAGED" in out and "expert2.bin is corrupt" in out, "verify:\n" + out)
    print("eval printed the loss and wrote nothing; generate streamed 20 tokens, the same twice; "
          "inspect and verify read the checkpoint; verify found the damaged expert file")


def dense_tensors(folder):
    """The dense parameters of a checkpoint (not their moments), read as the manifest places them."""
    import numpy as np
    text = open(os.path.join(folder, "manifest.pbtxt")).read()
    dense = text[text.index("dense {"):text.index("experts {") if "experts {" in text else len(text)]
    data = open(os.path.join(folder, "dense.bin"), "rb").read()
    out = {}
    for block in dense.split("tensors {")[1:]:
        field = lambda k: re.search(k + r': "?([^"\n]+)"?', block).group(1)
        name = field("name")
        if "#" not in name:
            start, size = int(field("offset")), int(field("bytes"))
            out[name] = np.frombuffer(data[start:start + size], dtype="<f4")
    return out


def case_export(env):
    try:
        import numpy as np
        from safetensors.numpy import load_file
    except ImportError as e:
        raise Skip("the export check needs the safetensors and numpy Python packages (%s); "
                   "launch/test.sh installs them from PyPI" % e)
    run(env.train_cmd("export", 3), expect=0)
    folder = env.run_dir("export") + "/checkpoints/step_3"
    out = os.path.join(env.work, "model.safetensors")
    run([env.bin, "ckpt", "export", folder, "--out", out], expect=0)
    tensors = load_file(out)  # the real safetensors parser: header, offsets, dtype
    dense = dense_tensors(folder)
    for name, values in dense.items():
        check(name in tensors and np.array_equal(tensors[name].ravel(), values),
              "dense tensor %s differs from the checkpoint" % name)
    experts = sorted(k for k in tensors if ".experts." in k)
    per_param = {}
    for k in experts:
        per_param.setdefault(k.rsplit(".", 1)[0], []).append(int(k.rsplit(".", 1)[1]))
    check(per_param and all(sorted(v) == list(range(4)) for v in per_param.values()),
          "every expert parameter once per global expert 0..3: %s" % per_param)
    check(len(tensors) == len(dense) + len(experts), "no tensor beyond parameters: %d" % len(tensors))
    check(all(np.isfinite(t).all() for t in tensors.values()), "non-finite values")
    print("export: %d tensors load with safetensors; dense values equal the checkpoint's, %d "
          "expert parameters split per global expert" % (len(tensors), len(per_param)))
    load_into_torch(out, {k: list(v.shape) for k, v in tensors.items()})


def torch_python():
    """A Python with torch and safetensors: SY_PYTHON, this one, or Debian's."""
    for py in (os.environ.get("SY_PYTHON"), sys.executable, "/usr/bin/python3"):
        if py and subprocess.run([py, "-c", "import torch, safetensors.torch"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return py
    return None


def load_into_torch(path, shapes):
    py = torch_python()
    if py is None:
        raise Skip("the PyTorch half of the export check needs a Python with torch and safetensors "
                   "(SY_PYTHON; launch/test.sh installs Debian's python3-torch); the safetensors "
                   "half passed")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_load.py")
    done = subprocess.run([py, script, path, json.dumps(shapes)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    check(done.returncode == 0, "loading the export into PyTorch failed:\n" + done.stdout[-2000:])
    print("export: " + done.stdout.strip())


def case_nonfinite(env):
    code, out = run(env.train_cmd("nan", 8, "debug.nonfinite_steps=3"), expect=0)
    check("SKIPPED" in out, "the skipped step must be reported:\n" + out[-2000:])
    with open(env.run_dir("nan") + "/log.jsonl") as f:
        skipped = [json.loads(l)["step"] for l in f if '"skipped":true' in l]
    check(skipped == [3], "skipped steps in the log: %s" % skipped)
    code, out = run(env.train_cmd("nan-stop", 12, "schedule.max_skipped_steps=2",
                                  "debug.nonfinite_steps=[3, 4, 5, 6, 7, 8]"))
    check(code != 0 and "stopping at step 5" in out and "the first, step 3" in out,
          "three non-finite steps in a row must stop the run:\n" + out[-2000:])
    print("one NaN step skipped and logged; three in a row stopped the run naming step 3")


def mount_tmpfs(path, size_bytes):
    os.makedirs(path)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size_bytes, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise Skip("cannot mount a small tmpfs here (%s): the disk-full case needs root in a "
                   "machine that allows mounts" % p.stdout.strip())


def case_disk_full(env):
    # One checkpoint's size, measured on the real disk.
    run(env.train_cmd("measure", 2), expect=0)
    step1 = os.path.join(env.run_dir("measure"), "checkpoints", "step_2")
    size = sum(os.path.getsize(f) for f in glob.glob(step1 + "/*"))
    tiny, small = os.path.join(env.work, "tiny_disk"), os.path.join(env.work, "small_disk")
    mount_tmpfs(tiny, size // 2)
    try:
        mount_tmpfs(small, int(size * 2.5))
        # Too small for one checkpoint: refused before the first step.
        code, out = run(env.train_cmd("full", LONG, logdir=tiny))
        check(code != 0 and "one checkpoint needs about" in out,
              "a disk without room must be refused at start (exit %d):\n%s" % (code, out[-2000:]))
        # Room for two: the third save fails; the job stops, and the last complete one loads.
        name = "full"
        code, out = run(env.train_cmd(name, LONG, "schedule.ckpt_every=1", logdir=small))
        check(code != 0 and "disk full" in out, "a full disk must stop the job (exit %d):\n%s" %
              (code, out[-2000:]))
        left = glob.glob(small + "/" + name + "/checkpoints/*.tmp")
        check(not left, "a failed save must remove its temporary folder: %s" % left)
        at = latest_step(os.path.join(small, name))
        shutil.copytree(os.path.join(small, name), os.path.join(env.work, name))
        run(env.train_cmd(name, at + 1, resume=env.work + "/" + name + "/checkpoints"), expect=0)
        print("no room at start: refused; disk full at the save after step_%d: the job stopped, "
              "no temporary folder left, step_%d loads" % (at, at))
    finally:
        subprocess.run(["umount", tiny])
        subprocess.run(["umount", small])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--mpirun", required=True)
    ap.add_argument("case")
    args = ap.parse_args()
    fn = globals().get("case_" + args.case)
    if not fn:
        sys.exit("unknown case %r" % args.case)
    work = tempfile.mkdtemp(prefix="sy_faults_")
    try:
        fn(Env(args, work))
    except Skip as e:
        print("SKIPPED:", e)
        return 77
    except (Failed, subprocess.TimeoutExpired) as e:
        print("FAILED:", e)
        return 1
    finally:
        for job in JOBS:
            if job.p.poll() is None:
                job.kill_all()
        shutil.rmtree(work, ignore_errors=True)
    print("held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
