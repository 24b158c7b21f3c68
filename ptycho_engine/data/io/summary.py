"""A scan at a glance: the numbers ``ptycho-engine inspect`` and the dataset browser show."""

from __future__ import annotations

from typing import Any

from ..scan import Scan
from .geometry import median_step_px, probe_diameter_px


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def summarize_scan(scan: Scan) -> dict[str, Any]:
    """Plain JSON-able facts about ``scan`` (lengths in object px unless the key says m/eV).

    ``linear_overlap`` is 1 - step / probe diameter (negative when neighbouring
    probes do not touch); the probe diameter is that of the equivalent circle of
    the region where |probe| >= half its peak.
    """
    meta = scan.metadata
    positions = scan.positions
    step = median_step_px(positions)
    diameter = probe_diameter_px(scan.probe)
    pixel_m = meta.object_pixel_m
    overlap = None if step is None or diameter <= 0 else 1.0 - step / diameter
    return {
        "file": meta.source_file,
        "format": meta.file_format,
        "patterns": scan.n_patterns,
        "N": scan.N,
        "position_extent_px": {
            "x_min": float(positions[:, 0].min()), "x_max": float(positions[:, 0].max()),
            "y_min": float(positions[:, 1].min()), "y_max": float(positions[:, 1].max()),
        },
        "median_step_px": step,
        "linear_overlap": overlap,
        "mean_photons_per_pattern": float(scan.mean_photons_per_pattern()),
        "probe_diameter_px": diameter,
        "probe_diameter_m": None if pixel_m is None else diameter * pixel_m,
        "probe_estimated": bool(meta.extra.get("probe_estimated", False)),
        "energy_eV": _number(meta.energy_eV),
        "wavelength_m": _number(meta.wavelength_m),
        "detector_distance_m": _number(meta.detector_distance_m),
        "detector_pixel_m": _number(meta.detector_pixel_m),
        "object_pixel_m": _number(pixel_m),
        "masked_pixels": int(meta.extra.get("masked_pixels", 0)),
        "has_ground_truth": scan.ground_truth is not None,
        "lazy": scan.is_lazy,
        "warnings": [str(warning) for warning in scan.warnings],
    }


def _si(value: float | None, unit: str, scale: float, digits: int = 4) -> str:
    if value is None:
        return "unknown"
    return f"{value * scale:.{digits}g} {unit}"


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value with unit) pairs of ``summarize_scan``'s dict, for tables and terminals."""
    extent = summary["position_extent_px"]
    step = summary["median_step_px"]
    overlap = summary["linear_overlap"]
    probe = _si(summary["probe_diameter_px"], "px", 1.0)
    if summary["probe_diameter_m"] is not None:
        probe += f" ({_si(summary['probe_diameter_m'], 'µm', 1e6)})"
    if summary["probe_estimated"]:
        probe += ", estimated from the data"
    rows = [
        ("file", summary["file"] or "(in memory)"),
        ("format", summary["format"] or "unknown"),
        ("patterns", f"{summary['patterns']} x {summary['N']} x {summary['N']} px"),
        ("positions x", f"{extent['x_min']:.1f} .. {extent['x_max']:.1f} px"),
        ("positions y", f"{extent['y_min']:.1f} .. {extent['y_max']:.1f} px"),
        ("median step", _si(step, "px", 1.0)),
        ("linear overlap", "unknown" if overlap is None else f"{overlap:.0%}"),
        ("photons/pattern", f"{summary['mean_photons_per_pattern']:.4g}"),
        ("probe diameter", probe),
        ("energy", _si(summary["energy_eV"], "keV", 1e-3)),
        ("wavelength", _si(summary["wavelength_m"], "Å", 1e10)),
        ("detector distance", _si(summary["detector_distance_m"], "m", 1.0)),
        ("detector pixel", _si(summary["detector_pixel_m"], "µm", 1e6)),
        ("object pixel", _si(summary["object_pixel_m"], "nm", 1e9)),
        ("masked pixels", str(summary["masked_pixels"])),
        ("ground truth", "yes" if summary["has_ground_truth"] else "no"),
    ]
    return rows


def format_summary(summary: dict[str, Any]) -> str:
    """A readable multi-line table of ``summarize_scan``'s dict, for terminals and logs."""
    rows = summary_rows(summary)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    warnings = summary["warnings"]
    lines.append(f"{'warnings':<{width}}  {'none' if not warnings else len(warnings)}")
    lines.extend(f"  - {warning}" for warning in warnings)
    return "\n".join(lines)

