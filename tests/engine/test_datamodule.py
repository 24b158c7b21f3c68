"""DataModule: seeded split, and the two ways of gathering a batch agree."""

import numpy as np
import torch

from ptycho_engine.data.training_data import prepare_training_data
from ptycho_engine.training.datamodule import (
    DeviceStore,
    GroupDataset,
    GroupIds,
    PtychoDataModule,
    split_groups,
)

from .conftest import tiny_config


def test_split_is_seeded_disjoint_and_complete():
    train_a, val_a = split_groups(100, 0.1, seed=3)
    train_b, val_b = split_groups(100, 0.1, seed=3)
    _, val_c = split_groups(100, 0.1, seed=4)
    assert np.array_equal(val_a, val_b) and not np.array_equal(val_a, val_c)
    assert len(val_a) == 10 and len(train_a) == 90
    assert sorted(np.concatenate([train_a, val_a]).tolist()) == list(range(100))
    assert len(split_groups(5, 0.01, seed=0)[1]) == 1  # at least one validation group
    assert len(split_groups(5, 0.0, seed=0)[1]) == 0


def test_host_and_device_gathers_agree(tiny_scan):
    data = prepare_training_data(tiny_scan, tiny_config(**{"data.gridsize": 2}))
    ids = [5, 0, 17, 3]
    x_host, offsets_host = GroupDataset(data, np.arange(len(data.groups.indices))) \
        .__getitems__(ids)
    batch = GroupIds(np.arange(len(data.groups.indices)), source=0).__getitems__(ids)
    x_dev, offsets_dev = DeviceStore(data, torch.device("cpu")).gather(batch.ids)
    assert torch.equal(x_host, x_dev) and torch.equal(offsets_host, offsets_dev)
    expected = data.diffraction[data.groups.indices[ids]]
    assert np.array_equal(x_host.numpy(), expected)
    assert x_host.shape == (4, 4, 32, 32)


def test_datamodule_batches(tiny_scan):
    data = prepare_training_data(tiny_scan, tiny_config())
    module = PtychoDataModule(data, batch_size=8, val_fraction=0.25, seed=0)
    module.setup("fit")
    x, offsets = next(iter(module.train_dataloader()))
    assert x.shape == (8, 1, 32, 32) and offsets.shape == (8, 1, 2)
    assert module.has_validation and len(module.val_ids) == 24
