"""Process-level runtime settings: torch threads, device descriptions, Lightning's noise."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

import torch

THREADS_VARIABLE = "PTYCHO_NUM_THREADS"

# Lightning messages that carry no information for our users (exact texts).
LIGHTNING_NOISE = (
    r".*LeafSpec.*",
    r".*does not have many workers.*",
    r".*tensorboardX.*",
    r".*GPU available but not used.*",
    r".*TPU available.*",
    r".*Checkpoint directory .* exists and is not empty.*",
)


def configure_threads() -> int:
    """Set torch's CPU threads: $PTYCHO_NUM_THREADS, else every core, except on machines
    with <= 2 cores where OpenMP threads may busy-wait (OMP_WAIT_POLICY not PASSIVE).

    torch's default OpenMP threads spin while idle; on a loaded 2-core machine that
    was measured 4-25x slower than one thread. With
    OMP_WAIT_POLICY=PASSIVE (the CLI and the app set it before importing torch)
    two threads on a quiet 2-core machine trained the demo scan 1.6x faster than
    one (250-280 vs 160 patterns/s).
    """
    requested = os.environ.get(THREADS_VARIABLE)
    if requested:
        threads = max(1, int(requested))
    elif (os.cpu_count() or 1) <= 2 and not passive_omp_wait():
        threads = 1
    else:
        return torch.get_num_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def passive_omp_wait() -> bool:
    """Whether OpenMP threads sleep when idle (OMP_WAIT_POLICY=PASSIVE in the environment)."""
    return os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"


def device_description(accelerator: str) -> str:
    """'GPU: <name>' or 'CPU (<n> threads)' for status bars and logs."""
    if accelerator == "gpu" and torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    threads = torch.get_num_threads()
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})"


LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning",
                     "lightning.pytorch.utilities.rank_zero",
                     "lightning.pytorch.accelerators.cuda")


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Within the block, silence Lightning's INFO lines and its known harmless warnings
    (by exact message); the loggers' levels are restored on the way out."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in LIGHTNING_NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
