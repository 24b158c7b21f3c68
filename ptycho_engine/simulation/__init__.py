"""Synthetic ptychography: objects, probes, scan patterns and noisy diffraction.

The public functions are re-exported by :mod:`ptycho_engine.simulate`; the
modules here each hold one kind of ingredient.
"""
