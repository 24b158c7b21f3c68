"""LightningDataModule over groups of diffraction patterns.

Patterns are stored once, (n, N, N); a batch gathers its groups' members by
index, so gridsize 2 does not copy the data four times.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .training_data import TrainingData


class GroupDataset(Dataset):
    """Groups of a TrainingData; items are (amplitudes (C, N, N), offsets (C, 2))."""

    def __init__(self, data: TrainingData, group_ids: np.ndarray):
        self.diffraction = torch.from_numpy(np.ascontiguousarray(data.diffraction))
        self.indices = torch.from_numpy(data.groups.indices[group_ids].astype(np.int64))
        self.offsets = torch.from_numpy(
            data.groups.relative_offsets[group_ids].astype(np.float32))

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.diffraction[self.indices[item]], self.offsets[item]

    def __getitems__(self, items: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole batch in one gather (the DataLoader calls this when it exists)."""
        rows = torch.as_tensor(items, dtype=torch.int64)
        return self.diffraction[self.indices[rows]], self.offsets[rows]


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate for ``__getitems__`` batches: they are already stacked."""
    return batch


def split_groups(n_groups: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of group ids; at least one of each when possible."""
    order = np.random.default_rng(seed).permutation(n_groups)
    n_val = int(round(n_groups * val_fraction))
    if val_fraction > 0 and n_groups >= 2:
        n_val = min(max(n_val, 1), n_groups - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class PtychoDataModule(L.LightningDataModule):
    """Training and validation groups; validation from its own scan or a seeded hold-out."""

    def __init__(self, data: TrainingData, *, batch_size: int, val_fraction: float, seed: int,
                 validation: TrainingData | None = None, num_workers: int = 0):
        super().__init__()
        self.data = data
        self.validation = validation
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        n_groups = data.groups.indices.shape[0]
        if validation is None:
            self.train_ids, self.val_ids = split_groups(n_groups, val_fraction, seed)
        else:
            self.train_ids, self.val_ids = np.arange(n_groups), None

    @property
    def n_train_groups(self) -> int:
        return int(len(self.train_ids))

    @property
    def has_validation(self) -> bool:
        return self.validation is not None or (self.val_ids is not None and len(self.val_ids) > 0)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                          generator=generator if shuffle else None,
                          num_workers=self.num_workers, collate_fn=keep_batch,
                          pin_memory=torch.cuda.is_available(),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(GroupDataset(self.data, self.train_ids), shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.validation is not None:
            ids = np.arange(self.validation.groups.indices.shape[0])
            return self._loader(GroupDataset(self.validation, ids), shuffle=False)
        if self.val_ids is None or len(self.val_ids) == 0:
            return []
        return self._loader(GroupDataset(self.data, self.val_ids), shuffle=False)
