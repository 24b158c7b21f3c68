"""Plain-text descriptions of models, runs and metrics, for labels, dialogs and tooltips.

Only formatting: every number comes from the engine (a bundle's manifest, a run's
run.json, ``Evaluation.to_dict()``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ptycho_engine import Convergence


def format_loss(value: float | None) -> str:
    """A loss with 6 significant digits; '—' when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.6g}"


def format_duration(seconds: float | None) -> str:
    """'1:05:03', '4:07' or '12 s'; '—' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_bytes(size: int | None) -> str:
    if size is None:
        return "—"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _config_lines(config: dict[str, Any]) -> list[str]:
    lines = []
    for section, values in config.items():
        if isinstance(values, dict):
            settings = ", ".join(f"{key}={value}" for key, value in values.items())
            lines.append(f"  [{section}] {settings}")
    return lines


def convergence_line(stored: Any) -> str:
    """'Convergence: NOT CONVERGED: reasons; try: advice' from a stored verdict (a dict, as
    run.json and a bundle summary hold it), or a line saying it was not recorded."""
    if isinstance(stored, dict):
        try:
            return f"Convergence: {Convergence.from_dict(stored).describe()}"
        except ValueError:
            pass
    return "Convergence: not recorded"


def convergence_banner(convergence: Convergence | None) -> str:
    """The reconstruction view's banner: 'Not converged — <reason>. Try: <advice>.', the
    first reason and the gist of the first advice (before its ':'; the tooltip and the
    model's details have it all), so that it stays about two lines over the images; ''
    for a converged fit (no banner) or when nothing records a verdict."""
    if convergence is None or convergence.converged:
        return ""
    title = {"too short to judge": "Not converged (too short to judge)",
             "unknown": "Convergence unknown"}.get(convergence.verdict, "Not converged")
    text = title
    if convergence.short_reason:
        text += f" — {convergence.short_reason}"
    if convergence.advice:
        text += f". Try: {convergence.advice[0].split(':')[0]}"
    return text + "."


def describe_bundle(summary: dict[str, Any]) -> str:
    """What ``Bundle.summary()`` says, as lines: file, format, network, training, data,
    metrics and the config."""
    training = summary.get("training") or {}
    provenance = summary.get("provenance") or {}
    weights = summary.get("weights") or {}
    lines = [
        f"Bundle: {Path(str(summary.get('path', ''))).name} "
        f"({format_bytes(summary.get('file_bytes'))})",
        f"Format: {summary.get('format')} {summary.get('format_version')}, engine "
        f"{summary.get('engine_version')}, created {summary.get('created')}",
        f"Network: N = {summary.get('N')} px, gridsize {summary.get('gridsize')}, "
        f"{weights.get('parameters', '?')} parameters (from {weights.get('from', '?')})",
        f"Training: {training.get('status', '?')} after {training.get('epochs', '?')} epochs "
        f"in {format_duration(training.get('seconds'))} on {training.get('device', '?')}; "
        f"final loss train {format_loss(training.get('final_train_loss'))}, "
        f"validation {format_loss(training.get('final_val_loss'))}",
        f"Data: {provenance.get('patterns', '?')} patterns from "
        f"{provenance.get('source_path') or provenance.get('source') or 'unknown'}, "
        f"{provenance.get('nphotons', '?')} photons/pattern"
        + (f", sha256 {str(provenance['sha256'])[:12]}…" if provenance.get("sha256") else ""),
    ]
    lines.append(convergence_line(summary.get("convergence")))
    metrics = summary.get("metrics")
    if isinstance(metrics, dict) and metrics:
        lines.append("Metrics at export: " + ", ".join(
            f"{key} {value:.4g}" for key, value in metrics.items()
            if isinstance(value, float)))
    config = summary.get("config")
    if isinstance(config, dict):
        lines.append("Config:")
        lines.extend(_config_lines(config))
    return "\n".join(lines)


def describe_run(run_dir: Path, info: dict[str, Any], config_text: str = "") -> str:
    """A run folder's facts (from run.json) and its config.toml text."""
    lines = [
        f"Run: {Path(run_dir).name} ({run_dir})",
        f"Status: {info.get('status', '?')} after {info.get('epochs', '?')} epochs in "
        f"{format_duration(info.get('seconds'))} on {info.get('device', '?')}",
        f"Final loss: train {format_loss(info.get('final_train_loss'))}, validation "
        f"{format_loss(info.get('final_val_loss'))}",
        f"Data: {info.get('patterns', '?')} patterns from {info.get('source', '?')}",
        convergence_line(info.get("convergence")),
    ]
    if config_text:
        lines += ["Config:", config_text.strip()]
    return "\n".join(lines)


METRIC_ROWS = (
    ("SSIM", "ssim", "{:.3f}"),
    ("PSNR (dB)", "psnr", "{:.2f}"),
    ("FRC res. (px)", "frc_px", "{:.2f}"),
    ("MAE", "mae", "{:.3g}"),
    ("Pearson r", "pearson", "{:.3f}"),
)
METRIC_TIPS = {
    "SSIM": "structural similarity, 1 = identical",
    "PSNR (dB)": "peak signal-to-noise ratio with peak 1 (PtychoPINN's tables use peak 255, "
                 "about 48 dB higher)",
    "FRC res. (px)": "Fourier ring correlation resolution at threshold 0.5, in pixels "
                     "(smaller is finer)",
    "MAE": "mean absolute error (amplitude in ground-truth units, phase in radians)",
    "Pearson r": "Pearson correlation coefficient",
}
"""(row label, key suffix, format) of the metrics table; keys are amplitude_/phase_ + suffix."""


def metric_cell(metrics: dict[str, Any], component: str, suffix: str, fmt: str) -> str:
    value = metrics.get(f"{component}_{suffix}")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return fmt.format(value)


def describe_alignment(metrics: dict[str, Any]) -> str:
    """The registration the engine applied before scoring, and how many pixels it compared."""
    shift = metrics.get("shift") or (0.0, 0.0)
    return (f"aligned: shift (dy, dx) = ({shift[0]:+.2f}, {shift[1]:+.2f}) px, phase offset "
            f"and ramp removed; {metrics.get('n_pixels', 0):,} pixels compared")
