"""Before Qt starts: can its X11 platform plugin load on this machine?

When a system library of Qt's xcb plugin is missing, Qt aborts the process with
a message that names the wrong package (it blames libxcb-cursor0; on Debian 12
the libraries really missing were libxcb-icccm4 and libxcb-keysyms1). Asking
``ldd`` about the plugin first lets ``ptycho-studio`` say which libraries are
missing and how to install them, in one line, and exit with code 2.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def uses_xcb() -> bool:
    """True when Qt will pick its X11 (xcb) plugin: Linux, an X display, no other choice."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    return (sys.platform.startswith("linux") and bool(os.environ.get("DISPLAY"))
            and not os.environ.get("WAYLAND_DISPLAY"))


def xcb_plugin() -> Path | None:
    """PySide6's libqxcb.so, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(ldd_output: str) -> list[str]:
    """The 'not found' libraries of ``ldd`` output, each once, in order."""
    return list(dict.fromkeys(NOT_FOUND.findall(ldd_output)))


def debian_package(library: str) -> str:
    """Debian/Ubuntu package of a library soname: libxcb-icccm.so.4 -> libxcb-icccm4,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (a hyphen when the name ends in a digit)."""
    name, _, version = library.partition(".so.")
    version = version.split(".")[0]
    return f"{name}{'-' if name[-1:].isdigit() else ''}{version}"


def missing_xcb_libraries() -> list[str]:
    """Libraries Qt's xcb plugin needs and the system lacks; [] when all load or when
    this cannot be checked (no plugin, no ldd)."""
    plugin = xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        return []
    try:
        result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                                timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return missing_libraries(result.stdout)


def missing_libraries_message(libraries: list[str]) -> str:
    packages = " ".join(dict.fromkeys(debian_package(lib) for lib in libraries))
    return (f"ptycho-studio: Qt's X11 display plugin cannot load, these system libraries are "
            f"missing: {', '.join(libraries)}. Install them (Debian/Ubuntu: sudo apt-get "
            f"install {packages}), or use the headless demo (`make demo`).")
