"""Benchmark: group 100,000 random positions at gridsize 2, K = 7, seed 0.

Run: ``.venv/bin/python tests/benchmarks/grouping.py``; prints one JSON line.
The KD-tree query runs on one thread (``make_groups`` passes no workers), so the
figure is single-threaded; numpy's own work here is single-threaded too.
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from ptycho_engine.data.grouping import make_groups


def main() -> None:
    positions = np.random.default_rng(0).uniform(0, 2000, (100_000, 2))
    make_groups(positions[:1000], 2, 7, n_groups=0, seed=0)  # warm imports and caches
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        groups = make_groups(positions, 2, 7, n_groups=0, seed=0)
        best = min(best, time.perf_counter() - start)
    assert groups.indices.shape == (100_000, 4)
    print(json.dumps({
        "what": "grouping_100k_gs2",
        "value": round(best, 4),
        "unit": "s",
        "machine": f"{platform.system()} {platform.machine()} {platform.processor() or ''}, "
                   f"{os.cpu_count()} CPUs".replace(" ,", ","),
        "threads": 1,
        "note": "best of 3",
    }))


if __name__ == "__main__":
    main()
