"""Model bundles (``.ptyz``): export a trained model, open it anywhere, safely.

See ``format`` for the layout and the version rules, ``export`` for writing and
``load`` for the checks done when a bundle is opened.
"""

from .export import export_bundle
from .format import FORMAT_NAME, FORMAT_VERSION, SUFFIX
from .load import Bundle, load_bundle

__all__ = ["Bundle", "FORMAT_NAME", "FORMAT_VERSION", "SUFFIX", "export_bundle", "load_bundle"]
