"""Entry point of ``ptycho-studio``: checks for a display, then opens the main window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HEADLESS_HINT = (
    "ptycho-studio: no display found (DISPLAY/WAYLAND_DISPLAY unset). Run the headless demo "
    "with `make demo` (or `ptycho-engine inspect resources/demo/demo_scan.npz`), or start a "
    "virtual display with `xvfb-run make run`."
)


def has_display() -> bool:
    """True when Qt can open a window: a display server, or an explicit Qt platform."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from ptycho_engine import __version__

    parser = argparse.ArgumentParser(prog="ptycho-studio",
                                     description="Ptycho Studio desktop application")
    parser.add_argument("files", nargs="*", type=Path, help="scan files to open")
    parser.add_argument("--config", type=Path, help="config TOML to load")
    parser.add_argument("--version", action="version", version=f"ptycho-studio {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not has_display():
        print(HEADLESS_HINT, file=sys.stderr)
        return 2
    from app.display_check import missing_libraries_message, missing_xcb_libraries, uses_xcb

    missing = missing_xcb_libraries() if uses_xcb() else []
    if missing:  # Qt would abort with a misleading message
        print(missing_libraries_message(missing), file=sys.stderr)
        return 2
    # torch's OpenMP threads must sleep, not spin, when idle: set before torch is imported
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from app.application import run_application

    return run_application(args.files, config_path=args.config)


if __name__ == "__main__":
    sys.exit(main())
