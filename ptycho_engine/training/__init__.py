"""Training: ``fit.train`` (with the one ``trainer.build_trainer``), the data module,
the callbacks, the loss floor, previews, and ``run_folder.RunFolder``, the one
owner of a run folder's files.

Import the modules themselves; this package file stays empty so that the
torch-free ``run_folder`` can be used without importing Lightning.
"""
