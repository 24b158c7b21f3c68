"""Reconstruction with a loaded model: inference over a scan in chunks, and stitching
the predicted patches into one object. No Lightning; the model arrives loaded.
"""
