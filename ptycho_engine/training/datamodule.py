"""LightningDataModule over groups of diffraction patterns.

Patterns are stored once, (n, N, N); a batch gathers its groups' members by
index, so gridsize 2 does not copy the data four times. On a GPU with room
for the scan, the patterns live on the GPU and batches carry only group ids
(gathered on the device after transfer); otherwise batches are gathered on
the host into pinned memory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.training_data import TrainingData


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


class GroupIdBatch(NamedTuple):
    """A batch of group ids (into the training data, or the validation data if source=1)."""

    ids: torch.Tensor
    source: int


class GroupIds(Dataset):
    """Group ids only; the DataModule gathers the patterns on the device."""

    def __init__(self, group_ids: np.ndarray, source: int):
        self.ids = torch.from_numpy(np.asarray(group_ids, np.int64))
        self.source = source

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __getitem__(self, item: int) -> int:
        return int(self.ids[item])

    def __getitems__(self, items: list[int]) -> GroupIdBatch:
        return GroupIdBatch(self.ids[torch.as_tensor(items, dtype=torch.int64)], self.source)


class DeviceStore:
    """One TrainingData's patterns, group indices and offsets as tensors on one device."""

    def __init__(self, data: TrainingData, device: torch.device):
        self.diffraction = torch.from_numpy(np.ascontiguousarray(data.diffraction)).to(device)
        self.indices = torch.from_numpy(data.groups.indices.astype(np.int64)).to(device)
        self.offsets = torch.from_numpy(
            data.groups.relative_offsets.astype(np.float32)).to(device)

    def gather(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.diffraction[self.indices[ids]], self.offsets[ids]


def fits_on_device(data: TrainingData, device: torch.device, share: float = 0.25) -> bool:
    """True when the scan's patterns take at most ``share`` of the GPU's free memory."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return data.diffraction.nbytes <= share * free


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
        self.stores: list[DeviceStore] | None = None
        n_groups = data.groups.indices.shape[0]
        if validation is None:
            self.train_ids, self.val_ids = split_groups(n_groups, val_fraction, seed)
        else:
            self.train_ids, self.val_ids = np.arange(n_groups), None

    @property
    def has_validation(self) -> bool:
        return self.validation is not None or (self.val_ids is not None and len(self.val_ids) > 0)

    def setup(self, stage: str | None = None) -> None:
        """Put the patterns on the training device when they fit there."""
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        sources = [self.data] + ([self.validation] if self.validation is not None else [])
        if all(fits_on_device(source, device) for source in sources):
            self.stores = [DeviceStore(source, device) for source in sources]

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if isinstance(batch, GroupIdBatch):
            return self.stores[batch.source].gather(batch.ids)
        return batch

    def _dataset(self, data: TrainingData, ids: np.ndarray, source: int) -> Dataset:
        if self.stores is not None:
            return GroupIds(ids, source)
        return GroupDataset(data, ids)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle,
                          generator=generator if shuffle else None,
                          num_workers=self.num_workers, collate_fn=keep_batch,
                          pin_memory=torch.cuda.is_available() and self.stores is None,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._dataset(self.data, self.train_ids, 0), shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        if self.validation is not None:
            ids = np.arange(self.validation.groups.indices.shape[0])
            return self._loader(self._dataset(self.validation, ids, 1), shuffle=False)
        if self.val_ids is None or len(self.val_ids) == 0:
            return []
        return self._loader(self._dataset(self.data, self.val_ids, 0), shuffle=False)
