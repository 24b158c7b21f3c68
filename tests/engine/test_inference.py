"""Inference geometry: with a model that predicts the true object, stitching returns it."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ptycho_engine.data.grouping import covering_groups, make_groups
from ptycho_engine.reconstruction.inference import (
    inference_refine_steps,
    iter_object_patches,
    stitch_groups,
    whole_pixel_positions,
)

N = 16


class TrueObjectModel(torch.nn.Module):
    """Stands in for a trained network: 'predicts' the true object on each member's
    whole-pixel window (centred at floor(p + 0.5)), as own patches and as member views.

    Pattern i of the fake diffraction is filled with the value i, so the model can
    tell which scan position each input channel belongs to.
    """

    def __init__(self, truth: np.ndarray, positions: np.ndarray, *, refine_steps: int = 0,
                 align_phase: bool = False):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(
            model=SimpleNamespace(object_big=True, refine_steps=refine_steps),
            inference=SimpleNamespace(refine_steps=-1, align_phase=align_phase))
        windows = []
        for x, y in np.floor(positions + 0.5).astype(int):
            windows.append(truth[y - N // 2:y + N // 2, x - N // 2:x + N // 2])
        self.patches = torch.from_numpy(np.stack(windows))
        self.calls = []

    def canvas_for(self, max_abs_offset: float) -> int:
        return N

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(("own", None))
        return self.patches[x[:, :, 0, 0].round().long()]

    def member_views(self, x, offsets, *, canvas, refine_steps):
        self.calls.append(("views", refine_steps))
        # the merged views of a perfect prediction are the prediction
        return self.patches[x[:, :, 0, 0].round().long()]


def _scan(fractional):
    rng = np.random.default_rng(0)
    truth = (rng.random((60, 70)) + 1j * rng.random((60, 70))).astype(np.complex64)
    ys, xs = np.meshgrid(np.arange(12, 48, 3), np.arange(12, 58, 3), indexing="ij")
    positions = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    if fractional:
        positions += rng.uniform(-0.5, 0.5, positions.shape)
        positions[:2] = np.floor(positions[:2]) + 0.5  # ties go to the upper pixel
    diffraction = np.repeat(np.arange(len(positions), dtype=np.float32), N * N)
    return truth, positions, diffraction.reshape(-1, N, N)


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("mode", ["all", "covering"])
@pytest.mark.parametrize("gridsize", [1, 2])
def test_stitching_a_perfect_prediction_returns_the_object(gridsize, mode, fractional, align):
    truth, positions, diffraction = _scan(fractional)
    groups = make_groups(positions, gridsize, 6, 0, seed=1)
    model = TrueObjectModel(truth, positions, align_phase=align)
    recon = stitch_groups(model, diffraction, groups, positions, batch_size=7, crop=8,
                          mode=mode)
    expected_groups = len(covering_groups(groups).indices) if mode == "covering" else len(
        groups.indices)
    assert recon.info["groups_run"] == expected_groups
    # own patches for 'all' without refinement, merged views for 'covering'
    assert {kind for kind, _ in model.calls} == ({"own"} if mode == "all" else {"views"})
    covered = recon.weight > 0
    assert covered.mean() > 0.9
    row0, col0 = (int(v) for v in recon.offset)
    assert recon.offset == (row0, col0)  # the stitch canvas sits on whole pixels
    height, width = recon.object.shape
    expected = truth[row0:row0 + height, col0:col0 + width]
    # exact copies at whole pixels: no interpolation anywhere, also at fractional positions
    np.testing.assert_allclose(recon.object[covered], expected[covered], rtol=1e-6, atol=1e-6)
    frame = recon.positions_in_object_frame
    assert np.allclose(frame + [col0, row0], positions)  # the true positions are kept


class PhaseOffsetModel(TrueObjectModel):
    """The true object times a constant phase e^(iθ_g) of each group's own (the data cannot
    see one, so every group's prediction carries its own): θ_g set by the group's seed."""

    def __init__(self, truth, positions, **options):
        super().__init__(truth, positions, **options)
        self.theta = torch.from_numpy(np.random.default_rng(5).uniform(-3, 3, len(positions)))

    def member_views(self, x, offsets, *, canvas, refine_steps):
        ids = x[:, :, 0, 0].round().long()
        turn = torch.polar(torch.ones(len(ids), dtype=torch.float64), self.theta[ids[:, 0]])
        return self.patches[ids] * turn.to(torch.complex64)[:, None, None, None]


def _error_up_to_one_phase(recon_object, weight, offset, truth):
    """Mean and max |object·e^(-iφ) − truth| over covered pixels, φ the best global phase."""
    row0, col0 = (int(v) for v in offset)
    height, width = recon_object.shape
    covered = weight > 0
    expected = truth[row0:row0 + height, col0:col0 + width][covered]
    got = recon_object[covered]
    turn = np.vdot(expected, got) / abs(np.vdot(expected, got))
    error = np.abs(got / turn - expected)
    return error.mean(), error.max()


@pytest.mark.parametrize("mode", ["all", "covering"])
def test_aligned_stitching_removes_each_groups_phase_offset(mode):
    truth, positions, diffraction = _scan(True)
    groups = make_groups(positions, 2, 6, 0, seed=1)
    errors = {}
    for align in (False, True):
        model = PhaseOffsetModel(truth, positions, refine_steps=2, align_phase=align)
        recon = stitch_groups(model, diffraction, groups, positions, batch_size=16, crop=8,
                              mode=mode)
        errors[align] = _error_up_to_one_phase(recon.object, recon.weight, recon.offset, truth)
    assert errors[False][0] > 0.2  # plain averaging of misaligned groups: not the object
    # the alignment gives the object up to one global phase
    assert errors[True][1] < 1e-3


def test_patches_are_yielded_at_whole_pixel_centres():
    truth, positions, diffraction = _scan(True)
    groups = make_groups(positions, 2, 6, 0, seed=1)
    model = TrueObjectModel(truth, positions)
    yielded = list(iter_object_patches(model, diffraction, groups, positions, batch_size=5))
    centres = np.concatenate([c for c, _, _ in yielded])
    np.testing.assert_array_equal(centres, np.floor(positions[groups.indices.ravel()] + 0.5))
    group_ids = np.concatenate([g for _, _, g in yielded])  # each member's row in groups
    np.testing.assert_array_equal(group_ids, np.repeat(np.arange(len(groups.indices)), 4))
    np.testing.assert_array_equal(whole_pixel_positions(np.array([[0.5, -0.5], [1.49, -1.51]])),
                                  [[1.0, 0.0], [1.0, -2.0]])


def test_refining_models_stitch_member_views_with_their_steps():
    truth, positions, diffraction = _scan(False)
    groups = make_groups(positions, 2, 6, 0, seed=1)
    model = TrueObjectModel(truth, positions, refine_steps=4)
    assert inference_refine_steps(model) == 4  # -1: as many as the model trained with
    stitch_groups(model, diffraction, groups, positions, batch_size=64, crop=8, mode="all")
    assert set(model.calls) == {("views", 4)}  # no own patches once the canvas is refined
    model.calls.clear()
    model.config.inference.refine_steps = 9
    assert inference_refine_steps(model) == 9
    list(iter_object_patches(model, diffraction, groups, positions, batch_size=64))
    assert set(model.calls) == {("views", 9)}
    model.calls.clear()
    list(iter_object_patches(model, diffraction, groups, positions, batch_size=64,
                             merged=False, refine_steps=0))
    assert set(model.calls) == {("own", None)}


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

    config = with_overrides(PtychoConfig(), {"data.N": 32, "data.gridsize": 2,
                                             "model.n_filters_scale": 1,
                                             "model.object_big": object_big,
                                             "model.refine_steps": 0,
                                             "inference.refine_steps": -1})
    torch.manual_seed(1)
    module = PtychoPINN(to_dict(config), 10.0, canvas=48)
    rng = np.random.default_rng(4)
    positions = rng.random((40, 2)) * 30
    diffraction = rng.random((40, 32, 32)).astype(np.float32)
    groups = make_groups(positions, 2, 6, 0, seed=0)

    def patches(**options):
        return torch.cat([v for _, v, _ in iter_object_patches(module, diffraction, groups,
                                                               positions, batch_size=16,
                                                               **options)])

    own, merged = patches(merged=False), patches(merged=True)
    with torch.no_grad():
        x = torch.from_numpy(diffraction[groups.indices])
        offsets = torch.from_numpy(groups.relative_offsets.astype(np.float32))
        canvas = module.canvas_for(float(np.abs(groups.relative_offsets).max()))
        network = module(x)
        views = module.member_views(x, offsets, canvas=canvas)
        refined = module.member_views(x, offsets, canvas=canvas, refine_steps=2)
    torch.testing.assert_close(merged, views.reshape(-1, 32, 32))
    expected = network if object_big else views  # one patch per group: only views exist
    torch.testing.assert_close(own, expected.reshape(-1, 32, 32))
    if object_big:
        assert not torch.allclose(own, merged)  # the merge really changes the patches
    # with refinement steps the member views of the refined canvas are stitched, always
    torch.testing.assert_close(patches(merged=False, refine_steps=2), refined.reshape(-1, 32, 32))
    assert not torch.allclose(refined, views)


def test_alignment_survives_a_lanczos_breakdown(monkeypatch):
    """ARPACK can fail to build its factorization from the all-ones start (seen on the
    real gold-balls scan); a random start then gives the alignment."""
    from scipy.sparse.linalg import ArpackError

    from ptycho_engine.reconstruction import phase_sync

    real_eigsh = phase_sync.eigsh
    starts = []

    def breaks_from_no_turn(*args, v0, **kwargs):
        starts.append(v0)
        if np.allclose(v0, 1):
            raise ArpackError(-9999)
        return real_eigsh(*args, v0=v0, **kwargs)

    monkeypatch.setattr(phase_sync, "eigsh", breaks_from_no_turn)
    truth, positions, diffraction = _scan(True)
    groups = make_groups(positions, 2, 6, 0, seed=1)
    model = PhaseOffsetModel(truth, positions, refine_steps=2, align_phase=True)
    recon = stitch_groups(model, diffraction, groups, positions, batch_size=16, crop=8,
                          mode="covering")
    assert len(starts) == 2  # the breakdown, then a random start
    assert _error_up_to_one_phase(recon.object, recon.weight, recon.offset, truth)[1] < 1e-3
