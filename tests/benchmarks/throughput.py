"""Training and inference throughput (patterns per second), one JSON line per figure.

Usage: python tests/benchmarks/throughput.py [--device cpu|cuda] [--N 64] [--gridsize 2]
       [--filters 2] [--train-patterns 2048] [--infer-patterns 20000] [--threads 1]

Training: steady-state patterns/s of the real LightningModule's optimisation step
(forward, physics, Poisson loss, backward, Adam), measured after warm-up batches.
Inference: patterns/s from an in-memory (n, N, N) array to the stitched object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"


def emit(what: str, value: float, unit: str, device: str, **settings) -> None:
    print(json.dumps({"what": what, "value": round(value, 3), "unit": unit, "device": device,
                      "machine": machine(), "settings": settings}), flush=True)


def simulated(N: int, patterns: int, seed: int = 0):
    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec

    return simulate_from_spec(SimulationSpec(N=N, patterns=patterns, step_px=N / 12,
                                             photons=1e6, seed=seed))


def config_for(N: int, gridsize: int, filters: int, batch: int, precision: str = "auto"):
    from ptycho_engine.core.config import PtychoConfig, with_overrides

    return with_overrides(PtychoConfig(), {
        "data.N": N, "data.gridsize": gridsize, "data.n_groups": 0,
        "model.n_filters_scale": filters, "training.batch_size": batch,
        "training.precision": precision, "inference.stitch_crop": min(20, N)})


def bench_training(scan, config, device: str, steps: int, warmup: int) -> float:
    import torch

    from ptycho_engine.data.training_data import prepare_training_data
    from ptycho_engine.model.system import PtychoPINNModule
    from ptycho_engine.physics import canvas_size
    from ptycho_engine.training.datamodule import GroupDataset

    data = prepare_training_data(scan, config)
    module = PtychoPINNModule(config={k: vars(v) for k, v in vars(config).items()},
                              intensity_scale=data.intensity_scale,
                              canvas=canvas_size(config.data.N, data.max_offset),
                              probe=data.probe).to(device)
    optimiser = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], 1e-3)
    dataset = GroupDataset(data, list(range(len(data.groups.indices))))
    batch = config.training.batch_size
    use_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()

    def step(i: int) -> None:
        start = (i * batch) % max(len(dataset) - batch, 1)
        x, offsets = dataset.__getitems__(list(range(start, start + batch)))
        x, offsets = x.to(device, non_blocking=True), offsets.to(device, non_blocking=True)
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16,
                            enabled=use_bf16):
            loss = module.loss((x, offsets))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for i in range(warmup):
        step(i)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return steps * batch * config.data.gridsize**2 / seconds, module.model


def bench_inference(module, scan, config, device: str, batch: int, groups: str) -> float:
    import torch

    from ptycho_engine.reconstruction.inference import reconstruct

    reconstruct(module, scan.subset(range(min(2048, scan.n_patterns))), batch_size=batch,
                groups=groups)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    reconstruct(module, scan, batch_size=batch, groups=groups)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return scan.n_patterns / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--gridsize", type=int, default=2)
    parser.add_argument("--filters", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--train-patterns", type=int, default=1024)
    parser.add_argument("--infer-patterns", type=int, default=10000)
    parser.add_argument("--infer-batch", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ["PTYCHO_NUM_THREADS"] = str(args.threads)
    import torch

    from ptycho_engine.core.runtime import configure_threads

    threads = configure_threads()
    settings = dict(N=args.N, gridsize=args.gridsize, n_filters_scale=args.filters,
                    batch=args.batch, threads=threads, torch=torch.__version__)
    config = config_for(args.N, args.gridsize, args.filters, args.batch)
    rate, module = bench_training(simulated(args.N, args.train_patterns), config, args.device,
                                  args.steps, args.warmup)
    emit("training_throughput", rate, "patterns/s", args.device, **settings)
    module.eval()
    infer = simulated(args.N, args.infer_patterns, seed=1)
    for groups in ("all", "covering"):  # inference.groups: best quality, and fastest
        rate = bench_inference(module, infer, config, args.device, args.infer_batch, groups)
        emit("inference_stitch_throughput", rate, "patterns/s", args.device,
             patterns=args.infer_patterns, infer_batch=args.infer_batch, groups=groups,
             **settings)


if __name__ == "__main__":
    main()
