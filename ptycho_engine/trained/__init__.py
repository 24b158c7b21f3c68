"""Trained models wherever they are: load one from a run folder, a checkpoint, a bundle
or a training result (``loading``), and score one on its own training scan
(``scoring``). This layer sits above ``bundle`` and ``training``, so that neither
of them, nor ``reconstruction``, has to know where a model comes from.
"""
