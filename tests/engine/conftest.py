"""Small simulated scans and tiny configs shared by the engine tests."""

import pytest

from ptycho_engine.core.config import PtychoConfig, with_overrides
from ptycho_engine.simulation import SimulationSpec, simulate_from_spec


def random_complex(rng, shape):
    """Standard complex normal numbers (numpy, complex128)."""
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def tiny_config(**overrides) -> PtychoConfig:
    """N = 32, narrow network: a whole training run takes seconds on one CPU thread."""
    values = {"data.N": 32, "data.gridsize": 1, "data.n_groups": 0,
              "model.n_filters_scale": 1, "training.epochs": 2, "training.batch_size": 16,
              "training.val_fraction": 0.1, "inference.stitch_crop": 16,
              "training.preview_every": 1}
    values.update(overrides)
    return with_overrides(PtychoConfig(), values)


@pytest.fixture(scope="session")
def tiny_scan():
    """96 noisy patterns of 32x32 on a Fermat spiral over a Siemens star."""
    return simulate_from_spec(SimulationSpec(N=32, patterns=96, step_px=3.0, photons=1e5,
                                             seed=7))


@pytest.fixture(scope="session")
def tiny_scan_file(tiny_scan, tmp_path_factory):
    from ptycho_engine.data.io import save_scan

    path = tmp_path_factory.mktemp("scans") / "tiny_scan.npz"
    save_scan(tiny_scan, path)
    return path
