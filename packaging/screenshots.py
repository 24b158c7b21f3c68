"""Screenshots of Ptycho Studio with the demo scan, rendered offscreen (no display needed).

    .venv/bin/python packaging/screenshots.py [--out docs/screenshots] [--scan FILE]
                                              [--epochs 30 | --epochs 0]

Writes main_window.png and one PNG per panel (scans, diffraction, positions,
probe, config, config_invalid); then trains for real on the scan with the
"quick look (CPU)" preset for ``--epochs`` epochs (11-12 s each on a quiet
2-core CPU; the star's spokes show from about epoch 22; 0 skips it) and
writes training.png (the dashboard), reconstruction.png (the stitched object
above its ground truth, with a line profile and metrics) and runs.png.
Settings and runs go to a temporary folder, never to the user's. Look at
every image: an empty or black plot is a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo" / "demo_scan.npz"
PATTERN = 60
"""A pattern near the centre of the Siemens star: spoke streaks and the probe's Airy rings."""


def wait_until(app, condition, timeout_s: float = 60.0) -> None:
    """Run the event loop until ``condition()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get ready in time")
        app.processEvents()
        time.sleep(0.005)  # a busy loop here took a core from the training


def settle(app, rounds: int = 20) -> None:
    for _ in range(rounds):
        app.processEvents()


def save(widget, path: Path) -> Path:
    """Grab ``widget`` and write it as a PNG (maximum compression)."""
    if not widget.grab().save(str(path), "PNG", 0):
        raise OSError(f"cannot write {path}")
    print(f"{path}  {path.stat().st_size / 1024:.0f} KB")
    return path


def save_floating(app, dock, path: Path, size: tuple[int, int]) -> Path:
    """Float ``dock`` at ``size``, grab it, and put it back in the window."""
    dock.setFloating(True)
    dock.resize(*size)
    dock.show()
    dock.raise_()
    settle(app, 40)
    try:
        return save(dock, path)
    finally:
        dock.setFloating(False)
        settle(app)


def training_shots(app, window, out: Path, epochs: int) -> None:
    """Train on the open scan (quick look preset, ``epochs`` epochs), then shoot the
    dashboard, the reconstruction viewer (ground truth below, line profile) and the runs."""
    from ptycho_engine import with_overrides

    window.config_editor.apply_preset("quick look (CPU)")
    window.session.set_config(with_overrides(window.session.config,
                                             {"training.epochs": epochs}))
    started = time.monotonic()
    window.training_dashboard.train_button.click()
    wait_until(app, lambda: window.session.training_running)
    wait_until(app, lambda: not window.session.training_running, timeout_s=900.0 * epochs)
    print(f"trained {epochs} epochs in {time.monotonic() - started:.0f} s")
    wait_until(app, lambda: window.session.reconstruction is not None
               and not window.jobs.busy, timeout_s=600.0)
    settle(app, 40)
    save_floating(app, window.docks["trainingDock"], out / "training.png", (1100, 760))
    viewer = window.reconstruction_viewer
    viewer.profile_toggle.setChecked(True)
    recon = window.session.reconstruction.reconstruction
    height, width = recon.object.shape
    row, col = recon.offset
    viewer.profile.set_line((col + 0.2 * width, row + 0.3 * height),  # across the spokes
                            (col + 0.8 * width, row + 0.3 * height))
    save_floating(app, window.docks["reconstructionDock"], out / "reconstruction.png",
                  (1100, 800))
    save_floating(app, window.docks["runsDock"], out / "runs.png", (1000, 360))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--scan", type=Path, default=DEMO)
    parser.add_argument("--epochs", type=int, default=30,
                        help="epochs of the real training behind the training and "
                             "reconstruction shots (0 skips them)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app: training on every core
    sys.path.insert(0, str(ROOT))

    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from app.application import configure_pyqtgraph
    from app.main_window import create_main_window

    configure_pyqtgraph()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as settings_dir:
        window = create_main_window([args.scan], Path(settings_dir))
        window.resize(1400, 900)
        window.show()
        wait_until(app, lambda: window.session.scans() and not window.jobs.busy)
        wait_until(app, lambda: window.system_info is not None)
        window.session.select_pattern(PATTERN)
        settle(app)
        view = window.diffraction_viewer.image_view
        point = view.image_item.mapToScene(QPointF(40.5, 21.5))
        view.graphics.scene().sigMouseMoved.emit(point)  # a cursor read-out in the status bar
        settle(app)
        save(window, args.out / "main_window.png")
        for name in ("scans", "diffraction", "positions", "probe", "config"):
            save(window.docks[f"{name}Dock"], args.out / f"{name}.png")
        window.config_editor.editors["training.batch_size"].widget.setValue(24)
        settle(app)
        save(window.docks["configDock"], args.out / "config_invalid.png")
        if args.epochs > 0:
            training_shots(app, window, args.out, args.epochs)
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
