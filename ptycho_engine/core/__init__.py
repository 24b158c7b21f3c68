"""The engine's base layer: errors, settings, presets, atomic writes, runtime and devices.

Everything above builds on these; nothing here imports another engine package.
Import the modules themselves (``core.config``, ``core.errors``, ...): this
package file stays empty so that ``import ptycho_engine`` never pays for torch.
"""
