"""Model bundles (``.ptyz``): export a trained model, open it anywhere, safely.

See ``format`` for the layout and the version rules, ``export`` for writing and
``load`` for the checks done when a bundle is opened.
"""

from .export import export_bundle
from .format import FORMAT_NAME, FORMAT_VERSION, SUFFIX
from .load import Bundle, load_bundle
from .sources import ExportSource, export_source

__all__ = ["Bundle", "ExportSource", "FORMAT_NAME", "FORMAT_VERSION", "SUFFIX", "export_bundle",
           "export_source", "load_bundle"]
