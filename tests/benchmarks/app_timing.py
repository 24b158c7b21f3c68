"""App start-up figures (JSON lines): start to visible window; Open to first pattern shown
for a 100,000-pattern CXI file (read lazily).

Runs offscreen unless a display is set. Usage:
python tests/benchmarks/app_timing.py [--patterns 100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(path: Path) -> dict:
    """In this (fresh) process: time to a visible window, then Open -> first pattern."""
    started = time.perf_counter()
    from PySide6.QtWidgets import QApplication

    from app.application import configure_pyqtgraph
    from app.main_window import create_main_window

    configure_pyqtgraph()
    application = QApplication.instance() or QApplication([])
    window = create_main_window([], settings_dir=Path(tempfile.mkdtemp()))
    window.show()
    while not window.isVisible():
        application.processEvents()
    application.processEvents()
    visible_s = time.perf_counter() - started
    session = window.context.session
    opened = time.perf_counter()
    window.open_files([path])
    deadline = opened + 120
    while session.current_scan is None and time.perf_counter() < deadline:
        application.processEvents()
        time.sleep(0.001)
    view = window.findChild(object, "diffractionView")
    application.processEvents()
    first_pattern_s = time.perf_counter() - opened
    shown = view is not None and session.current_scan is not None
    window.jobs.stop_all()  # e.g. the mean pattern still being computed in a worker
    while window.jobs.busy:  # finished jobs leave the list through queued signals
        application.processEvents()
    window.close()
    return {"visible_s": visible_s, "first_pattern_s": first_pattern_s, "shown": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    sys.path.insert(0, str(HERE))
    from scale import write_cxi

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ptycho-app-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"random_{args.patterns}_64.cxi"
    if not path.exists():
        write_cxi(path, args.patterns, 64)
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(HERE.parents[1])
    output = subprocess.run([sys.executable, __file__, "--measure", str(path)], env=env,
                            capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    for what, key in (("app_start_to_visible_window", "visible_s"),
                      ("app_open_to_first_pattern", "first_pattern_s")):
        print(json.dumps({"what": what, "value": round(result[key], 3), "unit": "s",
                          "machine": machine, "settings": {"patterns": args.patterns,
                                                           "platform": env["QT_QPA_PLATFORM"],
                                                           "shown": result["shown"]}}))


if __name__ == "__main__":
    main()
