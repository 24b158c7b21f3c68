"""Neighbour groups of gridsize² scan points, their offsets, and the data scales.

PtychoPINN trains on groups of C = gridsize² overlapping patterns that share
one object region; the overlap is what constrains the phase.

Sampling ("sample-then-group", docs/method.md, Grouping): seeds are
every position in file order when ``n_groups`` is 0 or at least the number of
positions, otherwise ``n_groups`` distinct positions drawn with
``np.random.default_rng(seed)`` and sorted. For gridsize ≥ 2 a group is the
seed itself followed by C − 1 members drawn uniformly without replacement from
the seed's K nearest *other* positions. This follows the paper ("anchor +
C − 1 neighbours"); the reference code instead draws all C members from the K
neighbours and may leave the seed out.

Anchor and sign convention: a group's anchor is the whole pixel nearest its
members' centroid (``floor(centroid + 0.5)``), and ``relative_offsets = p_k −
anchor`` is the *physical* offset of member k from it, in object pixels [x, y].
A whole-pixel anchor keeps the group canvas on the object's own pixel grid, so
scans on whole pixels need no interpolation anywhere (see ``physics.windows``).
The reference code offsets from the centroid itself and stores the negative,
−(p_k − centroid), compensating with signs in its forward model; here the offset
is stored plainly and the physics uses it directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..core.errors import ConfigError, ScanFormatError
from .scan import LazyDiffraction

_NORMALISATION_CHUNK = 4096


@dataclass(frozen=True)
class Groups:
    """Groups of scan patterns and their geometry.

    indices: (B, C) int64 indices into the scan's patterns; the seed comes first.
    anchors: (B, 2) float64 [x, y] whole pixel nearest the members' centroid, object pixels.
    relative_offsets: (B, C, 2) float64 [x, y] member position − anchor, object pixels.
    gridsize: the group is gridsize × gridsize = C patterns.
    """

    indices: np.ndarray
    anchors: np.ndarray
    relative_offsets: np.ndarray
    gridsize: int

    @property
    def n_groups(self) -> int:
        return int(self.indices.shape[0])

    @property
    def members(self) -> int:
        """C = gridsize², patterns per group."""
        return int(self.indices.shape[1])


def _checked_positions(positions: np.ndarray) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2 or positions.shape[0] == 0:
        raise ScanFormatError(f"has shape {positions.shape}; expected (patterns, 2) columns x, y "
                              "with at least one position", key="positions")
    if not np.isfinite(positions).all():
        raise ScanFormatError("holds NaN or Inf positions", key="positions")
    return positions


def _draw_seeds(n: int, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    if n_groups < 0:
        raise ConfigError([("data.n_groups", f"{n_groups} is negative; use 0 for one group per "
                                             "scan position, or a positive count")])
    if n_groups == 0 or n_groups >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=n_groups, replace=False)).astype(np.int64)


def _nearest_others(positions: np.ndarray, seeds: np.ndarray, k: int) -> np.ndarray:
    """(B, k) indices of each seed's k nearest positions, the seed itself removed."""
    tree = cKDTree(positions)
    _, found = tree.query(positions[seeds], k=k + 1)
    found = np.asarray(found, dtype=np.int64).reshape(len(seeds), k + 1)
    own = found == seeds[:, None]
    # With duplicate positions the seed may be missing from its own k+1 list:
    # then drop the farthest candidate instead, so every row keeps exactly k.
    missing = ~own.any(axis=1)
    own[missing, -1] = True
    return found[~own].reshape(len(seeds), k)


def _check_group_settings(n: int, gridsize: int, neighbor_count: int) -> None:
    members = gridsize * gridsize
    problems = []
    if gridsize < 1:
        problems.append(("data.gridsize", f"{gridsize} is below 1; use 1 or more"))
    elif n < members:
        problems.append(("data.gridsize", f"groups of gridsize^2 = {members} patterns need at "
                                          f"least {members} scan positions but the scan has {n}; "
                                          "use a smaller gridsize"))
    if gridsize >= 2 and neighbor_count < members - 1:
        problems.append(("data.neighbor_count",
                         f"{neighbor_count} neighbours cannot fill groups of gridsize^2 = "
                         f"{members} (the seed plus {members - 1} neighbours); use at least "
                         f"{members - 1}"))
    if problems:
        raise ConfigError(problems)


def make_groups(positions: np.ndarray, gridsize: int, neighbor_count: int, n_groups: int,
                seed: int) -> Groups:
    """Group scan positions into seed + nearest-neighbour sets of gridsize² members.

    positions: (n, 2) float [x, y] scan positions in object pixels.
    neighbor_count: K, the pool of nearest other positions members are drawn from.
    n_groups: number of groups (0: one per position, file order).
    seed: seed of the seed draw and the member draw.
    """
    positions = _checked_positions(positions)
    n = positions.shape[0]
    _check_group_settings(n, gridsize, neighbor_count)
    rng = np.random.default_rng(seed)
    seeds = _draw_seeds(n, n_groups, rng)
    members = gridsize * gridsize
    if members == 1:
        indices = seeds[:, None]
    else:
        k = min(neighbor_count, n - 1)
        pool = _nearest_others(positions, seeds, k)
        order = np.argsort(rng.random((len(seeds), k)), axis=1)[:, : members - 1]
        drawn = np.take_along_axis(pool, order, axis=1)
        indices = np.concatenate([seeds[:, None], drawn], axis=1)
    member_positions = positions[indices]  # (B, C, 2)
    anchors = np.floor(member_positions.mean(axis=1) + 0.5)
    relative = member_positions - anchors[:, None, :]
    for array in (indices, anchors, relative):
        array.flags.writeable = False
    return Groups(indices=indices, anchors=anchors, relative_offsets=relative,
                  gridsize=int(gridsize))


def _sum_of_squares(diffraction: np.ndarray | LazyDiffraction) -> tuple[float, int, int]:
    """(Σ over all patterns of Σ X², number of patterns, N), in float64, chunk by chunk."""
    shape = tuple(diffraction.shape)
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ScanFormatError(f"has shape {shape}; expected (patterns, N, N)", key="diffraction")
    total = 0.0
    for start in range(0, shape[0], _NORMALISATION_CHUNK):
        block = np.asarray(diffraction[start:start + _NORMALISATION_CHUNK], dtype=np.float64)
        total += float(np.einsum("ijk,ijk->", block, block))
    return total, shape[0], shape[1]


def amplitude_normalisation(diffraction: np.ndarray | LazyDiffraction) -> float:
    """Factor f with mean over patterns of Σ (f·X)² = (N/2)² (docs/method.md, Normalisation).

    diffraction: (n, N, N) amplitudes, sqrt(photons), any real dtype (summed in float64,
    so uint16 data cannot overflow); a numpy array or a LazyDiffraction read in chunks.
    """
    total, n, N = _sum_of_squares(diffraction)
    if n == 0 or not total > 0:
        raise ScanFormatError("holds no photons (every amplitude is 0); the scan cannot be "
                              "normalised, check the detector data", key="diffraction")
    return float(np.sqrt((N / 2) ** 2 / (total / n)))


def intensity_scale(nphotons: float, N: int) -> float:
    """s = sqrt(nphotons) / (N/2): maps normalised amplitudes back to photon amplitudes.

    nphotons: expected photons per pattern (> 0); N: pattern size in pixels.
    """
    if not np.isfinite(nphotons) or nphotons <= 0:
        raise ConfigError([("data.nphotons", f"{nphotons} is not a positive photon count; give "
                                             "the expected photons per diffraction pattern")])
    return float(np.sqrt(nphotons) / (N / 2))


def covering_groups(groups: Groups) -> Groups:
    """A subset of ``groups`` (one per position, as made with n_groups=0) that still
    contains every position at least once, for inference.

    At gridsize > 1 each group already predicts its C members, so reconstructing
    one group per position would run the network about C times per position.
    Greedy in two passes over the groups in order (plain Python on a bytearray,
    ~0.2 s per 100,000 groups): first keep every group whose members are all
    still uncovered (disjoint groups, C new positions each), then keep a group
    wherever its seed is still uncovered. The first pass matters: keeping a group
    whenever its seed was uncovered ran 1,826 groups for 4,000 positions at
    gridsize 2; with it, about 1,300.
    """
    if groups.members == 1:
        return groups
    rows = groups.indices.tolist()
    covered = bytearray(int(groups.indices.max()) + 1)
    kept = bytearray(len(rows))
    for row, members in enumerate(rows):
        if not any(covered[m] for m in members):
            kept[row] = 1
            for m in members:
                covered[m] = 1
    for row, members in enumerate(rows):
        if not kept[row] and not covered[members[0]]:
            kept[row] = 1
            for m in members:
                covered[m] = 1
    keep = [row for row in range(len(rows)) if kept[row]]
    chosen = np.asarray(keep, dtype=np.int64)
    subset = [np.array(array[chosen]) for array in
              (groups.indices, groups.anchors, groups.relative_offsets)]
    for array in subset:
        array.flags.writeable = False
    return Groups(indices=subset[0], anchors=subset[1], relative_offsets=subset[2],
                  gridsize=groups.gridsize)
