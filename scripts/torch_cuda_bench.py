#!/usr/bin/env python3
"""The GPU peer of `scripts/gpu-check.sh`: PyTorch's fp32 training step
throughput on CUDA, for the models the GPU check times on vtrain's kernels.

TF32 is off (`torch.backends.cuda.matmul.allow_tf32 = False`, and for cuDNN),
so PyTorch computes in fp32 as vtrain does; PyTorch is free to use cuBLAS,
cuDNN, split-K and any summation order (vtrain is not). Dev/GPU machines only,
never CI. Prints one markdown table row per model and writes JSON to
`$OUT/torch-cuda.json` when OUT is set.

Usage (from the repository root, on a machine with a CUDA GPU and PyTorch):
  python3 scripts/torch_cuda_bench.py [--steps N]
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
import tomllib
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
# `--device cpu` runs the same code on the CPU (a smoke test of this script
# on machines without a GPU; its numbers mean nothing).
DEVICE = "cuda"
spec_loader = importlib.util.spec_from_file_location("torch_compare", ROOT / "scripts" / "torch_compare.py")
tc = importlib.util.module_from_spec(spec_loader)
spec_loader.loader.exec_module(tc)


def synchronize():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def timed(step, steps, reps=5):
    """Median and best seconds of `steps` calls of `step`, after a warm-up."""
    for _ in range(3):
        step()
    synchronize()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), min(samples)


def sgd_model(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()

    return step


def mlp(widths, batch, gen):
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(DEVICE)
    x = torch.rand(batch, widths[0], generator=gen).to(DEVICE)
    y = torch.randint(0, widths[-1], (batch,), generator=gen).to(DEVICE)
    return sgd_model(model, x, y)


def cnn(batch, gen):
    # examples/digits-cnn.toml
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(512, 10),
    ).to(DEVICE)
    x = torch.rand(batch, 1, 8, 8, generator=gen).to(DEVICE)
    y = torch.randint(0, 10, (batch,), generator=gen).to(DEVICE)
    return sgd_model(model, x, y)


def gpt(gen):
    """examples/shakespeare-gpt.toml, built by torch_compare's spec code."""
    spec = tomllib.loads(tc.GPT_SPEC.read_text())
    params = [(torch.randn(shape, generator=gen) * 0.02).to(DEVICE).requires_grad_(True) for shape in tc.param_shapes(spec)]
    opt = tc.optimizer(spec, params)
    clip = spec.get("clip_grad_norm")
    batch, window = spec["batch_size"], spec["dataset"]["features"]
    tokens = torch.randint(0, spec["dataset"]["classes"], (batch, window), generator=gen).to(DEVICE)
    x, y = tokens[:, :-1], tokens[:, 1:]

    def step():
        loss = tc.loss_of(spec, params, x, y)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    return step, batch


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("torch_cuda_bench: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    # The attention's causal mask is made with torch.ones: on the GPU too.
    torch.set_default_device(DEVICE)
    gen = torch.Generator(device="cpu").manual_seed(0)
    rows = []
    cases = [
        ("digits-mlp 64-128-10, batch 64", mlp([64, 128, 10], 64, gen), 64),
        ("784-1024-1024-10, batch 1024", mlp([784, 1024, 1024, 10], 1024, gen), 1024),
        ("digits-cnn, batch 64", cnn(64, gen), 64),
    ]
    gpt_step, gpt_batch = gpt(gen)
    cases.append(("shakespeare-gpt, batch 16 x 64 tokens", gpt_step, gpt_batch))
    name = torch.cuda.get_device_name() if DEVICE == "cuda" else "the CPU (smoke test)"
    print(f"| model | PyTorch {torch.__version__} on {name}, fp32 (no TF32) | samples/s (median) | samples/s (best) | ms/step |")
    print("|---|---|---|---|---|")
    for label, step, batch in cases:
        median, best = timed(step, args.steps)
        rows.append(
            {
                "model": label,
                "samples_per_second": args.steps * batch / median,
                "samples_per_second_best": args.steps * batch / best,
                "ms_per_step": median * 1e3 / args.steps,
            }
        )
        r = rows[-1]
        print(f"| {label} | torch | {r['samples_per_second']:.0f} | {r['samples_per_second_best']:.0f} | {r['ms_per_step']:.3f} |", flush=True)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, "torch-cuda.json").write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
