"""Physics refinement of the whole stitched object with every position's pattern.

Why: each group is refined with its own nine patterns only, and the stitch averages
groups that were refined apart; where the network's first guess is poor the groups
disagree, and their average keeps the disagreement (measured on the suite's
photo-B/400/1e6 scan, a brick-wall phase and a coffee-cup amplitude: phase SSIM 0.940,
amplitude 0.472, with cross-talk, round defects and patch-shaped blocks in the
amplitude, while pty-chi's LSQML reached 0.999 / 0.985 from a flat object). Steps over
the whole object couple every position with all its neighbours, as an iterative solver
does, starting from the network's stitched object instead of a flat one.

The step is the same parallel projection update as the groups' refinement
(``physics.refine.projection_update``) on one canvas that holds every position's
window, accumulated over chunks of positions so memory stays bounded:

    O ← O + Σ_p window_p(P_p* (ψ'_p − ψ_p)) / (Σ_p window_p |P_p|² + δ), with momentum.

Pixels outside the stitched region (reached only by the probe's tails) start at the
stitched object's mean; the result keeps the stitched canvas, offset and weight. The
network's stitch competes with a flat object, the iterative solvers' start: on the real
gold-balls object and probe at 10⁴ photons (a 4.7 px probe) the network had learned
nothing useful (stitch phase SSIM 0.01) and 100 steps from it reached 0.39, from flat
0.95.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..api import Reconstruction
from ..data.scan import DiffractionStack
from ..model.pinn import PtychoPINN
from ..physics.forward import member_probes
from ..physics.propagate import autocast_disabled
from ..physics.refine import REFINE_REGULARISATION, projection_update
from ..physics.windows import GroupWindows, gather_views, group_windows, scatter_sum

SCAN_REFINE_MOMENTUM = 0.5
"""Heavy-ball factor of the scan-wide steps (measured stable with unit steps)."""
KEEP_WINDOWS_LIMIT = 1 << 24
"""Window pixels (positions × N²) up to which every chunk's window index and probes are
kept between steps (about 200 MB); larger scans rebuild them chunk by chunk."""
SCAN_REFINE_TRIAL_STEPS = 30
"""Steps every candidate start gets before the best fit goes on alone: after 30 steps the
misfit already ranked the starts as after 100 on the suite's scans (photo-A/2025 own and
transferred to photo-B, photo-A/400 at 10⁴ photons)."""


def _scan_canvas(positions: np.ndarray, N: int) -> tuple[int, tuple[int, int]]:
    """A square canvas side M (M − N even) holding every position's N × N window, and
    the frame (row, col) of its pixel [0, 0]."""
    whole = np.floor(np.asarray(positions, np.float64) + 0.5)
    low = whole.min(axis=0) - N // 2  # [x, y]
    extent = int((whole.max(axis=0) - whole.min(axis=0)).max()) + N
    side = extent + (extent - N) % 2
    return side, (int(low[1]), int(low[0]))


def _frame_overlap(stitched: Reconstruction, side: int, frame: tuple[int, int]
                   ) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(scan-canvas slices, stitched-object slices) of the part the two share."""
    r0 = int(stitched.offset[0]) - frame[0]
    c0 = int(stitched.offset[1]) - frame[1]
    h, w = stitched.object.shape
    rows = slice(max(r0, 0), min(r0 + h, side))
    cols = slice(max(c0, 0), min(c0 + w, side))
    return (rows, cols), (slice(rows.start - r0, rows.stop - r0),
                          slice(cols.start - c0, cols.stop - c0))


def _initial_canvas(stitched: Reconstruction, side: int, frame: tuple[int, int]
                    ) -> np.ndarray:
    """The stitched object on the scan canvas; uncovered pixels take its mean value."""
    covered = stitched.weight > 0
    values = np.asarray(stitched.object, np.complex64)
    fill = (np.abs(values[covered]).mean() * np.exp(1j * np.angle(values[covered].mean()))
            if covered.any() else 1.0)
    canvas = np.full((side, side), fill, np.complex64)
    on_canvas, inner = _frame_overlap(stitched, side, frame)
    canvas[on_canvas] = np.where(covered[inner], values[inner], canvas[on_canvas])
    return canvas


class ScanProblem:
    """Every position's window, probe and measured amplitude on one scan canvas, built once
    so that several starting objects can be refined and compared on the same data."""

    def __init__(self, module: PtychoPINN, diffraction: DiffractionStack,
                 positions: np.ndarray, *, scale: float, chunk: int = 512,
                 device: torch.device | None = None):
        self.device = device or module.probe_real.device
        N = module.N
        self.side, self.frame = _scan_canvas(positions, N)
        centre = np.array([self.frame[1] + self.side / 2, self.frame[0] + self.side / 2])
        self.offsets = torch.from_numpy((np.asarray(positions, np.float64) - centre)
                                        .astype(np.float32)).to(self.device)
        self.N = N
        self.mask = module.exit_mask if module.config.model.probe_mask else None
        self.probe = module.probe.detach()
        self.diffraction = diffraction
        self.amplitude_scale = (scale * module.input_scale
                                / float(torch.exp(module.log_scale.detach())))
        self.starts = range(0, len(positions), chunk)
        self.chunk = chunk
        # windows and probes are kept when small, rebuilt chunk by chunk otherwise
        self._kept = ([self._build(s) for s in self.starts]
                      if len(positions) * N * N <= KEEP_WINDOWS_LIMIT else None)
        normaliser = torch.zeros(1, self.side, self.side, device=self.device)
        for windows, probes in self._chunks():
            normaliser += scatter_sum(probes.real.square() + probes.imag.square(), windows)
        self.normaliser = normaliser + REFINE_REGULARISATION * normaliser.amax()

    def _build(self, start: int) -> tuple[GroupWindows, torch.Tensor]:
        with torch.inference_mode():
            windows = group_windows(self.offsets[None, start:start + self.chunk], self.N,
                                    self.side)
            return windows, member_probes(self.probe, windows, self.mask).to(torch.complex64)

    def _chunks(self) -> Iterator[tuple[GroupWindows, torch.Tensor]]:
        if self._kept is not None:
            yield from self._kept
        else:
            for start in self.starts:
                yield self._build(start)

    def _targets(self) -> Iterator[tuple[GroupWindows, torch.Tensor, torch.Tensor]]:
        """(chunk windows, probes, measured amplitudes with zero frequency at pixel 0)."""
        for start, (windows, probes) in zip(self.starts, self._chunks(), strict=True):
            measured = np.asarray(self.diffraction[start:start + self.chunk], np.float32)
            target = torch.from_numpy(measured).to(self.device)[None] * self.amplitude_scale
            yield windows, probes, torch.fft.ifftshift(target, dim=(-2, -1))

    def canvas(self, stitched: Reconstruction) -> torch.Tensor:
        """The stitched object on the scan canvas, (1, M, M)."""
        start = _initial_canvas(stitched, self.side, self.frame)
        return torch.from_numpy(start)[None].to(self.device)

    def flat_canvas(self) -> torch.Tensor:
        """A flat object (phase 0) whose transmission explains the mean measured count:
        an iterative solver's usual start, (1, M, M)."""
        measured, illumination = 0.0, 0.0
        with torch.inference_mode():
            for _, probes, target in self._targets():
                measured += float(target.square().sum())
                illumination += float((probes.real.square() + probes.imag.square()).sum()
                                      * (target.shape[1] / probes.shape[1]))
        level = (measured / illumination) ** 0.5 if illumination > 0 else 1.0
        return torch.full((1, self.side, self.side), level, dtype=torch.complex64,
                          device=self.device)

    def refine(self, canvas: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` parallel projection steps with heavy-ball momentum."""
        with torch.inference_mode(), autocast_disabled(self.device):
            velocity = torch.zeros_like(canvas)
            for _ in range(steps):
                update = torch.zeros_like(canvas)
                for windows, probes, target in self._targets():
                    update += projection_update(canvas, windows, probes, target)
                update = update / self.normaliser
                velocity = SCAN_REFINE_MOMENTUM * velocity + update
                canvas = canvas + update + SCAN_REFINE_MOMENTUM * velocity
        return canvas

    def misfit(self, canvas: torch.Tensor) -> float:
        """Σ(|F(P·O)| − A)² / ΣA² over every pattern: how well the object explains the data."""
        residual, total = 0.0, 0.0
        with torch.inference_mode(), autocast_disabled(self.device):
            for windows, probes, target in self._targets():
                spectrum = torch.fft.fft2(gather_views(canvas, windows) * probes, norm="ortho")
                residual += float((spectrum.abs() - target).square().sum())
                total += float(target.square().sum())
        return residual / max(total, 1e-30)

    def on_stitched_frame(self, canvas: torch.Tensor, stitched: Reconstruction,
                          info: dict) -> Reconstruction:
        """The refined canvas back on ``stitched``'s frame; uncovered pixels unchanged."""
        refined = canvas[0].cpu().numpy()
        out = np.array(stitched.object, np.complex64, copy=True)
        on_canvas, inner = _frame_overlap(stitched, self.side, self.frame)
        out[inner] = np.where(stitched.weight[inner] > 0, refined[on_canvas], out[inner])
        return Reconstruction(object=out, offset=stitched.offset, weight=stitched.weight,
                              positions=stitched.positions, source=stitched.source,
                              info={**stitched.info, **info})


def refine_stitched(module: PtychoPINN, stitched: Reconstruction | Sequence[Reconstruction],
                    diffraction: DiffractionStack, positions: np.ndarray, *, steps: int,
                    scale: float, flat_start: bool = True, chunk: int = 512,
                    device: torch.device | None = None) -> Reconstruction:
    """The stitched object after ``steps`` scan-wide projection steps with every pattern.

    ``stitched``: one stitch, or several candidates on the same frame (e.g. with and
    without phase alignment); with ``flat_start`` a flat object competes too, so a
    network that learned nothing useful for this scan cannot make the result worse than
    the solver alone. Each start gets ``SCAN_REFINE_TRIAL_STEPS`` steps, and the one
    that explains the data best (lowest ``ScanProblem.misfit``) goes on alone.
    diffraction: (n, N, N) measured amplitudes (``scale`` times them are the model's
    normalised amplitudes); positions: (n, 2) [x, y] px in the stitched frame. Patterns
    are read ``chunk`` at a time, every step, so a lazily read scan stays on disk.
    info: ``scan_refine_start`` (index of the chosen stitch, or None for the flat
    object) and ``scan_misfit``.
    """
    candidates = [stitched] if isinstance(stitched, Reconstruction) else list(stitched)
    if steps <= 0 or len(positions) == 0:
        return candidates[0]
    problem = ScanProblem(module, diffraction, positions, scale=scale, chunk=chunk,
                          device=device)
    starts: list[tuple[int | None, torch.Tensor]] = [
        (number, problem.canvas(start)) for number, start in enumerate(candidates)]
    if flat_start:
        starts.append((None, problem.flat_canvas()))
    trial = min(steps, SCAN_REFINE_TRIAL_STEPS) if len(starts) > 1 else steps
    tried = []
    for number, canvas in starts:
        canvas = problem.refine(canvas, trial)
        tried.append((problem.misfit(canvas) if len(starts) > 1 else 0.0, number, canvas))
    _, number, canvas = min(tried, key=lambda entry: entry[0])
    canvas = problem.refine(canvas, steps - trial)
    return problem.on_stitched_frame(canvas, candidates[0 if number is None else number], {
        "scan_refine_steps": steps, "scan_misfit": problem.misfit(canvas),
        "scan_refine_start": number})


__all__ = ["KEEP_WINDOWS_LIMIT", "SCAN_REFINE_MOMENTUM", "SCAN_REFINE_TRIAL_STEPS", "ScanProblem",
           "refine_stitched"]
