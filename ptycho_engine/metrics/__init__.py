"""Evaluation metrics: phase alignment, registration, SSIM, PSNR, FRC and the full comparison."""

from .evaluation import MIN_OVERLAP, Evaluation, evaluate
from .frc import frc, frc_resolution
from .phase import align_phase, relative_phase_plane, remove_phase_ramp
from .registration import register, shift_image
from .similarity import pearson, psnr, ssim, ssim_map
from .window import hann_tapered

__all__ = [
    "MIN_OVERLAP",
    "Evaluation",
    "align_phase",
    "evaluate",
    "frc",
    "frc_resolution",
    "hann_tapered",
    "pearson",
    "psnr",
    "register",
    "relative_phase_plane",
    "remove_phase_ramp",
    "shift_image",
    "ssim",
    "ssim_map",
]
