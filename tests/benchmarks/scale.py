"""Inference + stitching at scale: time and peak memory for 1e4 and 1e5 patterns (JSON lines).

Each size runs in a fresh subprocess so its peak RSS is its own. Data are random
counts on a raster scan (throughput and memory do not depend on the content),
written as a CXI file and read lazily, and also held in memory as an array.

Usage: python tests/benchmarks/scale.py [--device cpu|cuda] [--sizes 10000,100000]
       [--N 64] [--gridsize 2] [--filters 2] [--batch 1024] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
WAVELENGTH_M, DISTANCE_M, PIXEL_M = 1e-10, 2.0, 75e-6


def write_cxi(path: Path, n: int, N: int, seed: int = 0) -> None:
    """A CXI file with n random Poisson patterns on a raster, written chunk by chunk."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    rows, cols = np.divmod(np.arange(n), side)
    object_pixel = WAVELENGTH_M * DISTANCE_M / (N * PIXEL_M)
    translation = np.zeros((n, 3))
    translation[:, 0] = -cols * 5.0 * object_pixel
    translation[:, 1] = -rows * 5.0 * object_pixel
    yy, xx = np.mgrid[:N, :N] - N / 2
    envelope = 200.0 * np.exp(-(xx**2 + yy**2) / (2 * (N / 8) ** 2))
    with h5py.File(path, "w") as file:
        file["cxi_version"] = 160
        detector = file.create_group("entry_1/instrument_1/detector_1")
        data = detector.create_dataset("data", (n, N, N), dtype="uint16", chunks=(64, N, N))
        for start in range(0, n, 4096):
            stop = min(start + 4096, n)
            data[start:stop] = rng.poisson(envelope, size=(stop - start, N, N))
        detector["distance"] = DISTANCE_M
        detector["x_pixel_size"] = PIXEL_M
        detector["y_pixel_size"] = PIXEL_M
        file["entry_1/instrument_1/source_1/wavelength"] = WAVELENGTH_M
        file["entry_1/sample_1/geometry_1/translation"] = translation


def random_model(N: int, gridsize: int, filters: int, device: str):
    from ptycho_engine.core.config import PtychoConfig, to_dict, with_overrides
    from ptycho_engine.model.pinn import PtychoPINN

    config = with_overrides(PtychoConfig(), {"data.N": N, "data.gridsize": gridsize,
                                             "data.neighbor_count": 6,
                                             "model.n_filters_scale": filters})
    return PtychoPINN(config=to_dict(config), intensity_scale=100.0,
                      canvas=N + 16).to(device).eval()


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM), so the
    peak of one reconstruction excludes what loading the array cost before it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere the peak stays the process's (ru_maxrss)


def peak_rss_mb() -> float:
    """VmHWM of /proc/self/status (since the last reset), else the process's ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace) -> None:
    """One size, in this process: reconstruct from the lazy file and from memory."""
    import numpy as np
    import torch

    from ptycho_engine.core.runtime import configure_threads
    from ptycho_engine.data.io import load_scan
    from ptycho_engine.data.scan import Scan
    from ptycho_engine.reconstruction.inference import reconstruct

    configure_threads()
    module = random_model(args.N, args.gridsize, args.filters, args.device)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    scan = load_scan(args.file)
    reconstruct(module, scan.subset(np.arange(min(4096, scan.n_patterns))),
                batch_size=args.batch)  # warm-up
    results = {}
    for label in ("file", "memory"):
        if label == "memory":
            scan = Scan(scan.diffraction_array(), scan.positions, scan.probe,
                        metadata=scan.metadata)
            array_bytes = scan.diffraction.nbytes
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        reset_peak_rss()
        started = time.perf_counter()
        recon = reconstruct(module, scan, batch_size=args.batch)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        results[label] = {
            "seconds": seconds, "patterns_per_second": scan.n_patterns / seconds,
            "object_shape": list(recon.object.shape),
            "gpu_peak_mb": (torch.cuda.max_memory_allocated() / 2**20
                            if args.device.startswith("cuda") else 0.0),
            "rss_peak_mb": peak_rss_mb()}
    results["array_mb"] = array_bytes / 2**20
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--gridsize", type=int, default=2)
    parser.add_argument("--filters", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        args.file = args.measure
        measure(args)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ptycho-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        path = workdir / f"random_{size}_{args.N}.cxi"
        if not path.exists():
            write_cxi(path, size, args.N)
        command = [sys.executable, __file__, "--measure", str(path), "--device", args.device,
                   "--N", str(args.N), "--gridsize", str(args.gridsize),
                   "--filters", str(args.filters), "--batch", str(args.batch)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        measured = json.loads(output.strip().splitlines()[-1])
        settings = dict(patterns=size, N=args.N, gridsize=args.gridsize,
                        n_filters_scale=args.filters, batch=args.batch)
        machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
        for label in ("file", "memory"):
            entry = measured[label]
            for what, unit in (("patterns_per_second", "patterns/s"),
                               ("rss_peak_mb", "MB"), ("gpu_peak_mb", "MB")):
                print(json.dumps({"what": f"inference_{label}_{what}", "value":
                                  round(entry[what], 1), "unit": unit, "device": args.device,
                                  "machine": machine, "settings": settings}), flush=True)
        print(json.dumps({"what": "input_array_mb", "value": round(measured["array_mb"], 1),
                          "unit": "MB", "settings": settings}), flush=True)


if __name__ == "__main__":
    main()
