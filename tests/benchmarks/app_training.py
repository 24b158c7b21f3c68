"""App training figures (JSON lines): click Train -> first preview drawn, the first epoch, the
preview's cost, and the longest GUI event-loop gap (10 ms QTimer heartbeat) meanwhile.

Opens the scan (default: the demo), applies a preset (default "quick look (CPU)"), clicks
Train and stops after ``--previews`` previews have been drawn. When the scan holds a ground
truth, every drawn preview is scored afterwards (phase and amplitude SSIM, in the engine's
frame and alignment) and printed with its time since the click: how soon the operator
sees a recognisable sample. ``--shots DIR`` saves the dashboard as PNG at each preview.
Offscreen unless a display is set; OMP_WAIT_POLICY=PASSIVE unless set. Usage:
python tests/benchmarks/app_training.py [--scan FILE] [--preset NAME] [--previews 1]
                                        [--shots DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo" / "demo_scan.npz"


def score_previews(window, previews: list[tuple[int, float, object]]) -> list[dict]:
    """Phase and amplitude SSIM of each (epoch, seconds, image) preview against the scan's
    ground truth; [] when it has none. The preview stitches every position (scans up to
    the engine's preview limit), so its canvas is the reconstruction's canvas."""
    import numpy as np

    from ptycho_engine.metrics import evaluate
    from ptycho_engine.reconstruction.stitching import canvas_for

    scan = window.session.current_scan().scan
    if scan.ground_truth is None:
        return []
    config = window.session.config
    _, offset = canvas_for(scan.positions, config.data.N, config.inference.stitch_crop)
    scores = []
    for epoch, seconds, image in previews:
        valid = np.isfinite(image)
        result = evaluate(np.nan_to_num(image), offset, scan.ground_truth, mask=valid)
        scores.append({"epoch": epoch, "seconds": round(seconds, 1),
                       "phase_ssim": round(result.phase_ssim, 3),
                       "amplitude_ssim": round(result.amplitude_ssim, 3)})
    return scores


def run(scan: Path, preset: str, previews: int, shots: Path | None = None) -> dict:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.application import configure_pyqtgraph
    from app.main_window import create_main_window

    configure_pyqtgraph()
    application = QApplication.instance() or QApplication([])
    window = create_main_window([scan], settings_dir=Path(tempfile.mkdtemp()))
    window.resize(1400, 900)
    window.show()

    def spin(condition, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError("the app did not get there in time")
            application.processEvents()
            time.sleep(0.002)

    spin(lambda: window.session.scans() and window.system_info is not None
         and not window.jobs.busy, 300)
    window.config_editor.apply_preset(preset)
    dashboard = window.training_dashboard
    marks: dict[str, float] = {}
    epochs: list[dict] = []
    window.training.epochFinished.connect(
        lambda record: (epochs.append(dict(record)),
                        marks.setdefault("first_epoch", time.perf_counter())))
    drawn: list[tuple[int, float, object]] = []

    def keep_preview(epoch: int, image) -> None:
        drawn.append((epoch, time.perf_counter() - clicked, image.copy()))
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            window.training_dashboard.grab().save(str(shots / f"preview_epoch{epoch:03d}.png"))

    window.training.previewReady.connect(keep_preview)
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    clicked = time.perf_counter()
    dashboard.train_button.click()
    spin(lambda: dashboard.preview_epoch >= 1, 3600)
    first_preview = time.perf_counter()
    # the preset's time limit may end the run first (3 minutes for the quick look)
    spin(lambda: dashboard.previews_drawn >= previews or not window.session.training_running,
         3600 * previews)
    window.training.stop()
    spin(lambda: not window.session.training_running, 600)
    heartbeat.stop()
    spin(lambda: not window.jobs.busy, 600)
    window.close()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    return {"first_preview_s": first_preview - clicked,
            "first_epoch_s": marks["first_epoch"] - clicked,
            "preview_after_epoch_s": first_preview - marks["first_epoch"],
            "epoch_seconds": [e["seconds"] for e in epochs],
            "max_gap_ms": 1000 * max(gaps), "device": dashboard.device_label.text(),
            "previews": score_previews(window, drawn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", type=Path, default=DEMO)
    parser.add_argument("--preset", default="quick look (CPU)")
    parser.add_argument("--previews", type=int, default=1)
    parser.add_argument("--shots", type=Path, default=None,
                        help="save the window as PNG at each preview into this folder")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, str(ROOT))
    result = run(args.scan, args.preset, args.previews, args.shots)
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    settings = {"scan": args.scan.name, "preset": args.preset, "device": result["device"],
                "platform": os.environ["QT_QPA_PLATFORM"],
                "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]}
    for what, key, unit in (("app_train_click_to_first_preview", "first_preview_s", "s"),
                            ("app_train_click_to_first_epoch", "first_epoch_s", "s"),
                            ("app_preview_after_epoch", "preview_after_epoch_s", "s"),
                            ("app_training_max_gui_gap", "max_gap_ms", "ms")):
        print(json.dumps({"what": what, "value": round(result[key], 3), "unit": unit,
                          "machine": machine, "settings": settings}))
    for score in result["previews"]:
        print(json.dumps({"what": "app_preview_quality", "value": score["phase_ssim"],
                          "unit": "phase SSIM", **score, "settings": settings}))


if __name__ == "__main__":
    main()
