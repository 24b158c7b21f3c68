"""Ptycho Studio's engine: scans in, a trained PtychoPINN model and stitched objects out.

This module's exports are the engine's public API: the app and scripts use
nothing else (an import-linter contract keeps the app to it). Light parts
(config, scans) import at once; parts that need torch import on first use, so
``import ptycho_engine`` stays fast. The packages behind it, in layer order,
are listed in the README's "Architecture".
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.config import (
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
from .core.errors import BundleError, ConfigError, PtychoError, ScanFormatError, TrainingError
from .core.version import __version__
from .data.scan import LazyDiffraction, Scan, ScanMetadata

# name -> module that defines it; imported on first access (PEP 562)
_LAZY = {
    "load_scan": ".data.io",
    "save_scan": ".data.io",
    "summarize_scan": ".data.io",
    "format_summary": ".data.io",
    "make_groups": ".data.grouping",
    "Groups": ".data.grouping",
    "simulate_scan": ".simulation",
    "summary_rows": ".data.io.summary",
    "load_probe": ".data.io.probe_file",
    "replace_probe": ".data.io.probe_file",
    "mean_intensity": ".data.statistics",
    "probe_properties": ".data.statistics",
    "ConfigPreset": ".core.presets",
    "config_presets": ".core.presets",
    "config_preset": ".core.presets",
    "system_info": ".core.platform_info",
    "train": ".training.fit",
    "TrainingResult": ".training.fit",
    "RunFolder": ".training.run_folder",
    "PtychoPINN": ".model.pinn",
    "load_model": ".trained.loading",
    "training_metrics": ".trained.scoring",
    "resolve_device": ".core.devices",
    "TrainingObserver": ".api",
    "TrainingStart": ".api",
    "EpochRecord": ".api",
    "BudgetClock": ".training.budget",
    "BudgetEstimate": ".training.budget",
    "describe_budget": ".training.budget",
    "format_limit": ".training.budget",
    "remaining_time": ".training.budget",
    "Convergence": ".training.convergence",
    "ConvergenceThresholds": ".training.convergence",
    "assess_convergence": ".training.convergence",
    "CancelToken": ".api",
    "reconstruct": ".reconstruction.inference",
    "Reconstruction": ".api",
    "evaluate": ".metrics",
    "Evaluation": ".metrics",
    "export_bundle": ".bundle",
    "load_bundle": ".bundle",
    "Bundle": ".bundle",
    "save_reconstruction": ".outputs.results",
    "load_reconstruction": ".outputs.results",
    "ProductMetadata": ".outputs.product",
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
