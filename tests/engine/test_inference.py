"""Inference geometry: with a model that predicts the true object, stitching returns it."""

import numpy as np
import pytest
import torch

from ptycho_engine.data.grouping import covering_groups, make_groups
from ptycho_engine.data.patches import extract_patches
from ptycho_engine.reconstruction.inference import stitch_groups

N = 16


class TrueObjectModel(torch.nn.Module):
    """Stands in for a trained network: 'predicts' the true object around each member.

    Pattern i of the fake diffraction is filled with the value i, so the model can
    tell which scan position each input channel belongs to.
    """

    def __init__(self, truth: np.ndarray, positions: np.ndarray):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.patches = torch.from_numpy(extract_patches(truth, positions, N))

    def canvas_for(self, max_abs_offset: float) -> int:
        return N

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, :, 0, 0].round().long()
        return self.patches[ids]

    def member_views(self, patches, offsets, canvas):
        return patches  # the merged views of a perfect prediction are the prediction


@pytest.mark.parametrize("mode", ["all", "covering"])
@pytest.mark.parametrize("gridsize", [1, 2])
def test_stitching_a_perfect_prediction_returns_the_object(gridsize, mode):
    rng = np.random.default_rng(0)
    truth = (rng.random((60, 70)) + 1j * rng.random((60, 70))).astype(np.complex64)
    ys, xs = np.meshgrid(np.arange(12, 48, 3), np.arange(12, 58, 3), indexing="ij")
    positions = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    diffraction = np.repeat(np.arange(len(positions), dtype=np.float32), N * N)
    diffraction = diffraction.reshape(-1, N, N)
    groups = make_groups(positions, gridsize, 6, 0, seed=1)
    recon = stitch_groups(TrueObjectModel(truth, positions), diffraction, groups, positions,
                          batch_size=7, crop=8, mode=mode)
    expected_groups = len(covering_groups(groups).indices) if mode == "covering" else len(
        groups.indices)
    assert recon.info["groups_run"] == expected_groups
    covered = recon.weight > 0
    assert covered.mean() > 0.9
    row0, col0 = (int(v) for v in recon.offset)
    height, width = recon.object.shape
    expected = truth[row0:row0 + height, col0:col0 + width]
    np.testing.assert_allclose(recon.object[covered], expected[covered], rtol=1e-5, atol=1e-6)
    frame = recon.positions_in_object_frame
    assert np.allclose(frame + [col0, row0], positions)


def test_covering_groups_cover_every_position_with_fewer_groups():
    rng = np.random.default_rng(2)
    positions = rng.random((500, 2)) * 100
    groups = make_groups(positions, 2, 6, 0, seed=0)
    cover = covering_groups(groups)
    assert set(np.unique(cover.indices)) == set(range(500))
    assert len(cover.indices) < 0.42 * len(groups.indices)  # disjoint groups first (was 0.45)
    rows = {tuple(row) for row in groups.indices.tolist()}
    assert all(tuple(row) in rows for row in cover.indices.tolist())
    single = make_groups(positions, 1, 4, 0, seed=0)
    assert covering_groups(single) is single


@pytest.mark.parametrize("object_big", [True, False])
def test_own_patches_are_the_network_output_and_single_patch_models_fall_back(object_big):
    from ptycho_engine.core.config import PtychoConfig, to_dict, with_overrides
    from ptycho_engine.model.pinn import PtychoPINN
    from ptycho_engine.reconstruction.inference import iter_object_patches

    config = with_overrides(PtychoConfig(), {"data.N": 32, "data.gridsize": 2,
                                             "model.n_filters_scale": 1,
                                             "model.object_big": object_big})
    torch.manual_seed(1)
    module = PtychoPINN(to_dict(config), 10.0, canvas=48)
    rng = np.random.default_rng(4)
    positions = rng.random((40, 2)) * 30
    diffraction = rng.random((40, 32, 32)).astype(np.float32)
    groups = make_groups(positions, 2, 6, 0, seed=0)
    own = torch.cat([v for _, v in iter_object_patches(module, diffraction, groups,
                                                        batch_size=16, merged=False)])
    merged = torch.cat([v for _, v in iter_object_patches(module, diffraction, groups,
                                                           batch_size=16, merged=True)])
    with torch.no_grad():
        x = torch.from_numpy(diffraction[groups.indices])
        offsets = torch.from_numpy(groups.relative_offsets.astype(np.float32))
        patches = module(x)
        views = module.member_views(patches, offsets, module.canvas_for(
            float(np.abs(groups.relative_offsets).max())))
    torch.testing.assert_close(merged, views.reshape(-1, 32, 32))
    expected = patches if object_big else views  # one patch per group: only views exist
    torch.testing.assert_close(own, expected.reshape(-1, 32, 32))
    if object_big:
        assert not torch.allclose(own, merged)  # the merge really changes the patches
