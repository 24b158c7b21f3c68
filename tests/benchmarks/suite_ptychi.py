"""The reference column of the quality suite: pty-chi's ePIE and LSQML on the same scans.

Both start from a flat object (ones) in the truth's pixel frame, with the true
probe and the true positions, neither refined, for a fixed number of epochs
(100 by default). pty-chi's FFT is not orthonormal, so this project's probe
(orthonormal convention: amplitudes = |fft2(P·O, norm="ortho")|) is divided by
N before it is handed over; the data are the intensities, zero frequency at the
centre. Our patch centre is pixel N/2, pty-chi's (N - 1)/2, hence the position
origin (-0.5, -0.5): the object comes back in the truth's frame, offset (0, 0).

ePIE: batch size 1, object step size 1, alpha 1. LSQML: Poisson noise model,
object step size 1, batch size ``LSQML_BATCH`` (see its note).
"""

from __future__ import annotations

import logging
import os
import time
import warnings

import numpy as np

METHODS = ("epie", "lsqml")
LSQML_BATCH = 40
"""LSQML minibatch. Measured on photo-A/400 (N 64, 100 epochs, 2 shared CPU cores), phase
SSIM / slope / seconds: at 1e6 photons batch 10: 0.998 / 1.00 / 136 s, 40: 0.998 / 0.99 /
52 s, 100: 0.997 / 0.96 / 60 s, 400: 0.977 / 0.82 / 65 s; at 1e4 photons batch 10: 0.927,
40: 0.945, 100: 0.952 (larger batches average the noise but lose contrast: slope 0.98,
0.97, 0.94). 40 converges as well as 10 at high dose in a third of the time and stays
close to the best at low dose. (ePIE, batch 1: 0.998 at 1e6 in 208 s.)"""
INSTALL_HINT = ("pty-chi is not installed; the epie/lsqml reference columns are skipped "
                "(pip install ptychi, or the project's [iterative] extra)")


def available() -> bool:
    try:
        import ptychi.api  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("ptychi")
    except PackageNotFoundError:
        return "?"


class _DropPadding(logging.Filter):
    """pty-chi warns that our just-large-enough object is padded by a pixel or two at its
    edges; those pixels are outside the scored region."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("A probe-grid object tensor")


def _quiet() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _DropPadding) for f in root.filters):
        root.addFilter(_DropPadding())
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")


def reconstruct(method: str, amplitudes: np.ndarray, probe: np.ndarray, positions: np.ndarray,
                object_shape: tuple[int, int], iterations: int = 100,
                device: str | None = None) -> tuple[np.ndarray, float]:
    """pty-chi's ``method`` ('epie' or 'lsqml') on one scan.

    amplitudes: (n, N, N) measured amplitudes (orthonormal convention, DC at the centre);
    probe: (N, N) complex, this project's convention; positions: (n, 2) [x, y] patch
    centres in the truth's pixels; object_shape: the truth's (H, W).
    Returns (object (H, W) complex64 in the truth's frame, seconds of the reconstruction).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ptychi.api as api
    import torch
    from ptychi.api.task import PtychographyTask

    torch.set_num_threads(os.cpu_count() or 1)
    _quiet()
    if method == "epie":
        opts = api.EPIEOptions()
        opts.object_options.alpha = 1.0
        batch = 1
    elif method == "lsqml":
        opts = api.LSQMLOptions()
        opts.reconstructor_options.noise_model = api.NoiseModels.POISSON
        batch = LSQML_BATCH
    else:
        raise ValueError(f"unknown pty-chi method {method!r}; choose one of {METHODS}")
    N = probe.shape[-1]
    height, width = object_shape
    opts.data_options.data = np.asarray(amplitudes, np.float32) ** 2
    opts.object_options.initial_guess = np.ones((1, height, width), np.complex64)
    opts.object_options.pixel_size_m = 1e-8
    opts.object_options.optimizable = True
    opts.object_options.step_size = 1.0
    opts.object_options.determine_position_origin_coords_by = (
        api.enums.ObjectPosOriginCoordsMethods.SPECIFIED)
    opts.object_options.position_origin_coords = np.array([-0.5, -0.5])
    opts.probe_options.initial_guess = (np.asarray(probe) / N).astype(np.complex64)[None, None]
    opts.probe_options.optimizable = False
    opts.probe_position_options.position_x_px = np.asarray(positions[:, 0], np.float64)
    opts.probe_position_options.position_y_px = np.asarray(positions[:, 1], np.float64)
    opts.probe_position_options.optimizable = False
    opts.reconstructor_options.batch_size = batch
    opts.reconstructor_options.num_epochs = int(iterations)
    opts.reconstructor_options.random_seed = 0
    if device is None:
        device = "gpu" if torch.cuda.is_available() else "cpu"
    opts.reconstructor_options.default_device = (api.enums.Devices.GPU if device == "gpu"
                                                 else api.enums.Devices.CPU)
    started = time.perf_counter()
    task = PtychographyTask(opts)
    task.run()
    if device == "gpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    obj = task.get_data_to_cpu("object", as_numpy=True)[0]
    return np.asarray(obj, np.complex64), seconds
