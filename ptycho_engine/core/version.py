"""The engine's version, as installed (``0.0.0+source`` when run from an uninstalled tree).

Kept here, not in ``ptycho_engine/__init__``, so the modules that write it into
files (bundles, ``--version``, the About box) never import the package root.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ptycho-studio")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
