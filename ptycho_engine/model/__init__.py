"""The model: the CNN (``network``), ``PtychoPINN`` (network + probe + intensity scale +
forward model, a plain ``nn.Module``), the Lightning training system (``system``)
and its checkpoints (``checkpoint``).

Only ``system`` imports Lightning. Import the modules themselves; this package
file stays empty so that importing one never pulls in the others.
"""
