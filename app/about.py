"""The About box text: versions of the engine, torch, Qt, and whether a GPU is available."""

from __future__ import annotations

import html
from typing import Any

import pyqtgraph
import PySide6
from PySide6.QtCore import qVersion


def about_html(info: dict[str, Any]) -> str:
    """HTML for the About box from ``ptycho_engine.system_info()``'s dict."""
    gpus = ", ".join(info["gpus"]) if info["gpus"] else "none found"
    rows = [
        ("Ptycho Studio engine", info["engine"]),
        ("PyTorch", info["torch"]),
        ("CUDA", info["cuda"]),
        ("GPU available", f"{'yes' if info['gpu_available'] else 'no'} ({gpus})"),
        ("Training device", info["device"]),
        ("Lightning", info["lightning"]),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", pyqtgraph.__version__),
        ("NumPy", info["numpy"]),
        ("Python", info["python"]),
    ]
    table = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows)
    return ("<h3>Ptycho Studio</h3>"
            "<p>Trains PtychoPINN, a physics-informed neural network for X-ray ptychography, "
            "on your scans, and reconstructs the sample.</p>"
            f"<table cellspacing='4'>{table}</table>")
