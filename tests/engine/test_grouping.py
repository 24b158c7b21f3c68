"""Neighbour groups, offsets and data scales against brute-force numpy references."""

import numpy as np
import pytest

from ptycho_engine.core.errors import ConfigError, ScanFormatError
from ptycho_engine.data.grouping import (
    Groups,
    amplitude_normalisation,
    intensity_scale,
    make_groups,
)
from ptycho_engine.data.scan import LazyDiffraction


def _positions(n=300, seed=0):
    return np.random.default_rng(seed).uniform(0, 100, (n, 2))


def _k_nearest_others(positions, seed_index, k):
    distance = np.linalg.norm(positions - positions[seed_index], axis=1)
    distance[seed_index] = np.inf
    order = np.argsort(distance, kind="stable")
    return set(order[:k].tolist()), distance[order[k - 1]]


@pytest.mark.parametrize("gridsize,k", [(2, 4), (2, 7), (3, 12)])
def test_members_are_the_seed_and_its_nearest_neighbours(gridsize, k):
    positions = _positions()
    groups = make_groups(positions, gridsize, k, n_groups=0, seed=1)
    assert isinstance(groups, Groups)
    assert groups.indices.shape == (300, gridsize**2) and groups.indices.dtype == np.int64
    assert groups.members == gridsize**2 and groups.n_groups == 300
    np.testing.assert_array_equal(groups.indices[:, 0], np.arange(300))
    for row in groups.indices:
        seed = row[0]
        nearest, kth_distance = _k_nearest_others(positions, seed, k)
        assert len(set(row.tolist())) == len(row)  # no repeats
        for member in row[1:]:
            # Among the K nearest, allowing for ties at the K-th distance.
            distance = np.linalg.norm(positions[member] - positions[seed])
            assert member in nearest or np.isclose(distance, kth_distance)


def test_offsets_and_anchors():
    positions = _positions()
    groups = make_groups(positions, 2, 6, n_groups=50, seed=3)
    members = positions[groups.indices]
    centroids = members.mean(axis=1)
    # the anchor is the whole pixel nearest the centroid, ties rounded up: floor(c + 0.5)
    np.testing.assert_array_equal(groups.anchors, np.floor(centroids + 0.5))
    assert np.array_equal(groups.anchors, np.round(groups.anchors))
    assert np.all(np.abs(groups.anchors - centroids) <= 0.5)
    assert np.any(np.abs(groups.anchors - centroids) > 0.1)  # really rounded, not the centroid
    np.testing.assert_allclose(groups.relative_offsets,
                               members - groups.anchors[:, None, :], atol=1e-12)
    # offsets now sum to C times the centroid's distance from its anchor, not to zero
    np.testing.assert_allclose(groups.relative_offsets.mean(axis=1),
                               centroids - groups.anchors, atol=1e-9)
    assert groups.relative_offsets.shape == (50, 4, 2)
    assert groups.anchors.dtype == np.float64 and not groups.anchors.flags.writeable


def test_anchor_ties_round_up():
    """Centroids exactly between pixels go to the upper pixel (floor(c + 0.5)), also for
    negative coordinates: not away from zero, not to even (np.round)."""
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    positions = np.concatenate([square, square + [-102.0, 40.0]])  # centroids .5 and -101.5
    groups = make_groups(positions, 2, 3, n_groups=0, seed=0)
    expected = np.array([[1.0, 1.0]] * 4 + [[-101.0, 41.0]] * 4)
    np.testing.assert_array_equal(groups.anchors, expected)
    np.testing.assert_array_equal(groups.relative_offsets,
                                  positions[groups.indices] - expected[:, None, :])


def test_seeds_reproduce_and_differ():
    positions = _positions()
    a = make_groups(positions, 2, 7, n_groups=0, seed=11)
    b = make_groups(positions, 2, 7, n_groups=0, seed=11)
    c = make_groups(positions, 2, 7, n_groups=0, seed=12)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)


def test_fewer_groups_draw_distinct_sorted_seeds():
    positions = _positions()
    groups = make_groups(positions, 2, 5, n_groups=40, seed=4)
    seeds = groups.indices[:, 0]
    assert groups.n_groups == 40
    assert len(np.unique(seeds)) == 40
    assert np.all(np.diff(seeds) > 0)
    other = make_groups(positions, 2, 5, n_groups=40, seed=5)
    assert not np.array_equal(seeds, other.indices[:, 0])
    assert make_groups(positions, 2, 5, n_groups=1000, seed=4).n_groups == 300


def test_gridsize_one_is_identity():
    positions = _positions(50)
    groups = make_groups(positions, 1, 4, n_groups=0, seed=0)
    np.testing.assert_array_equal(groups.indices[:, 0], np.arange(50))
    np.testing.assert_array_equal(groups.anchors, np.floor(positions + 0.5))
    assert groups.relative_offsets.shape == (50, 1, 2)
    np.testing.assert_allclose(groups.relative_offsets[:, 0], positions - groups.anchors,
                               atol=1e-12)
    assert np.all(np.abs(groups.relative_offsets) <= 0.5)
    assert groups.relative_offsets.any()  # fractional positions leave a sub-pixel rest
    whole = make_groups(np.round(positions), 1, 4, n_groups=0, seed=0)
    np.testing.assert_array_equal(whole.anchors, np.round(positions))
    assert not whole.relative_offsets.any()


def test_duplicate_positions_never_repeat_the_seed():
    positions = np.repeat(_positions(20, seed=6), 5, axis=0)  # every point five times
    groups = make_groups(positions, 2, 3, n_groups=0, seed=0)
    for row in groups.indices:
        assert len(set(row.tolist())) == 4


def test_settings_errors_name_fields():
    positions = _positions(10)
    with pytest.raises(ConfigError) as error:
        make_groups(positions, 2, 2, n_groups=0, seed=0)
    assert error.value.problems[0][0] == "data.neighbor_count"
    with pytest.raises(ConfigError) as error:
        make_groups(positions[:3], 2, 7, n_groups=0, seed=0)
    assert error.value.problems[0][0] == "data.gridsize"
    with pytest.raises(ScanFormatError):
        make_groups(np.zeros((5, 3)), 1, 4, n_groups=0, seed=0)


def test_small_scan_uses_every_other_position():
    positions = _positions(4)
    groups = make_groups(positions, 2, 7, n_groups=0, seed=0)
    for row in groups.indices:
        assert sorted(row.tolist()) == [0, 1, 2, 3]


class _ArrayLazy(LazyDiffraction):
    def __init__(self, data):
        self.data = data
        self.reads = 0

    @property
    def shape(self):
        return self.data.shape

    def read(self, index):
        self.reads += 1
        return self.data[index].astype(np.float32)


def test_amplitude_normalisation_property_and_lazy(monkeypatch):
    import ptycho_engine.data.grouping as module

    rng = np.random.default_rng(8)
    data = rng.gamma(2.0, 3.0, (10, 16, 16)).astype(np.float32)
    f = amplitude_normalisation(data)
    direct = np.sqrt(8**2 / np.mean(np.sum(data.astype(np.float64) ** 2, axis=(1, 2))))
    assert f == pytest.approx(direct, rel=1e-12)
    assert np.mean(np.sum((f * data.astype(np.float64)) ** 2, axis=(1, 2))) == pytest.approx(64)
    monkeypatch.setattr(module, "_NORMALISATION_CHUNK", 3)
    lazy = _ArrayLazy(data)
    assert amplitude_normalisation(lazy) == pytest.approx(direct, rel=1e-12)
    assert lazy.reads == 4


def test_amplitude_normalisation_does_not_overflow_uint16():
    data = np.full((4, 8, 8), 60000, dtype=np.uint16)
    expected = np.sqrt(16 / (64 * 60000.0**2))
    assert amplitude_normalisation(data) == pytest.approx(expected, rel=1e-12)


def test_amplitude_normalisation_rejects_empty_data():
    with pytest.raises(ScanFormatError):
        amplitude_normalisation(np.zeros((3, 8, 8), dtype=np.float32))


def test_intensity_scale():
    assert intensity_scale(1e9, 64) == pytest.approx(np.sqrt(1e9) / 32)
    with pytest.raises(ConfigError) as error:
        intensity_scale(0.0, 64)
    assert error.value.problems[0][0] == "data.nphotons"
