"""Reusable views: the complex-image view, amplitude|phase pairs, colour maps, spin boxes."""
