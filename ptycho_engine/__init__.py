"""Ptycho Studio's engine: scans in, a trained PtychoPINN model and stitched objects out.

This module's exports are the engine's public API; the app and the CLI use
nothing else. Light parts (config, scans, file formats) import at once; parts
that need torch import on first use, so ``import ptycho_engine`` stays fast.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .config import (
    DataConfig,
    FieldInfo,
    InferenceConfig,
    ModelConfig,
    PtychoConfig,
    TrainingConfig,
    field_infos,
    load_config,
    save_config,
    validate,
    with_overrides,
)
from .errors import BundleError, ConfigError, PtychoError, ScanFormatError, TrainingError
from .scan import LazyDiffraction, Scan, ScanMetadata

try:
    __version__ = version("ptycho-studio")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

# name -> module that defines it; imported on first access (PEP 562)
_LAZY = {
    "load_scan": ".io",
    "save_scan": ".io",
    "summarize_scan": ".io",
    "format_summary": ".io",
    "make_groups": ".grouping",
    "Groups": ".grouping",
    "simulate_scan": ".simulate",
    "summary_rows": ".io.summary",
    "load_probe": ".io.probe_file",
    "replace_probe": ".io.probe_file",
    "mean_intensity": ".scan_stats",
    "probe_properties": ".scan_stats",
    "ConfigPreset": ".presets",
    "config_presets": ".presets",
    "config_preset": ".presets",
    "system_info": ".platform_info",
    "train": ".training",
    "TrainingResult": ".training",
    "TrainingObserver": ".observer",
    "EpochRecord": ".observer",
    "CancelToken": ".observer",
    "reconstruct": ".inference",
    "Reconstruction": ".inference",
    "evaluate": ".metrics",
    "Evaluation": ".metrics",
    "export_bundle": ".bundle",
    "load_bundle": ".bundle",
    "Bundle": ".bundle",
    "save_reconstruction": ".results",
    "load_reconstruction": ".results",
    "ProductMetadata": ".product",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ptycho_engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "__version__",
    "DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig", "PtychoConfig",
    "FieldInfo", "field_infos", "load_config", "save_config", "validate", "with_overrides",
    "PtychoError", "ScanFormatError", "ConfigError", "BundleError", "TrainingError",
    "Scan", "ScanMetadata", "LazyDiffraction",
    *_LAZY,
]
