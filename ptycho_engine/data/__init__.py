"""Scans and what is made of them: the ``Scan``, file formats (``io``), neighbour
groups, normalised training data, patch extraction and statistics for viewers.

numpy/scipy/h5py only (no torch). Import the modules themselves; this package
file stays empty so that ``import ptycho_engine`` stays quick.
"""
