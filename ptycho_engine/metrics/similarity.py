"""SSIM, PSNR and correlation between two images, written out with numpy and scipy.

SSIM follows Wang et al. (IEEE TIP 13, 600, 2004): Gaussian window sigma 1.5
truncated at 3.5 sigma (11 x 11), K1 = 0.01, K2 = 0.03, population (not sample)
covariances; the mean skips the 5-pixel border where the window leaves the image.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
"""Half-width of the Gaussian window (5 px): the border the SSIM mean leaves out."""


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"images must be 2-D of one shape; got {a.shape} and {b.shape}")
    return a, b


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float) -> np.ndarray:
    """Local SSIM of two real images a, b (H, W) at every pixel; (H, W) float64.

    Values within SSIM_RADIUS of an edge use reflected borders; ``ssim`` drops them.
    """
    a, b = _pair(a, b)
    if not data_range > 0:
        raise ValueError(f"data_range must be positive; got {data_range}")

    def blur(image: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(image, SSIM_SIGMA, mode="reflect", truncate=SSIM_TRUNCATE)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    denominator = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return numerator / denominator


def ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """Mean structural similarity of real images a, b (H, W), at least 11 x 11 pixels.

    data_range: the span of possible values (e.g. max - min of the reference).
    """
    a, b = _pair(a, b)
    r = SSIM_RADIUS
    if min(a.shape) < 2 * r + 1:
        raise ValueError(f"SSIM needs images of at least {2 * r + 1} px a side; got {a.shape}")
    return float(ssim_map(a, b, data_range)[r:-r, r:-r].mean())


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio 10 log10(peak^2 / mean|a - b|^2) in dB; inf when equal.

    a, b: arrays of one shape (real or complex). PtychoPINN's tables use peak 255
    on unit-range data (about 48 dB more); this engine uses the peak given.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"arrays must have one shape; got {a.shape} and {b.shape}")
    mse = float(np.mean(np.abs(a.astype(np.complex128) - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(peak * peak / mse))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two real arrays; 0 when either is constant.

    Unlike MAE it exposes a flat (collapsed) reconstruction.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    norm = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / norm) if norm > 0 else 0.0
