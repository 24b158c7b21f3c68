"""Cases of the quality suite and the deterministic simulation of their scans.

A case is (family, size, dose, N), named ``family/size/dose/NN``, e.g.
``photo-A/400/1e6/N64``; a transfer case ``transfer:TRAIN->APPLY`` trains on
one case's scan and reconstructs another's (same probe and geometry).

Geometry (every synthetic family): a raster of 20 x 20 = 400 or 45 x 45 = 2,025
points, step 7 px at N = 64, a defocused probe whose intensity FWHM is about
23 px (probe_diameter_px 30.5), so the linear overlap 1 - step/FWHM is about
70 %; at N = 128 the probe diameter and the step are doubled (same overlap).
The object is just large enough for the scan (``place_in_new_object``).

Gold balls (N = 64 only: the real object is 210 x 210 px, too small for
N = 128 patches over a useful scan): the object is goldballs_recon.npz's
``objectGuess`` cropped by the simulator's ``file:`` loader, the probe its own
``probeGuess`` cropped to 64 x 64 (intensity FWHM about 4.5 px, with a wide
halo), and the positions are the real scan's: all 1,595 (``goldballs/1595``,
median spacing 2.4 px), or the real positions nearest to a 20 x 20 grid over
the same area (``goldballs/400``, spacing about 5.5 px).

Seeds: the object seed comes from (role, family, size, N), so both doses of a
case see the same object, and the noise seed from (role, case name); the role
enters both, so confirm objects never repeat a tune object.
"""

from __future__ import annotations

import fnmatch
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GOLDBALLS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "goldballs_recon.npz"
"""../shared/data/goldballs_recon.npz beside the repository (see its README)."""

SCAN_VERSION = "v1"
"""Part of the cached scans' folder name: bump it when the simulation changes."""

TUNE, CONFIRM = "tune", "confirm"

# family -> (role, kind, parameters). Photo pairs: (amplitude image, phase image), all
# bundled in the scikit-image wheel (no download).
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "photo-A": (TUNE, "photo", ("camera", "astronaut")),
    "photo-B": (CONFIRM, "photo", ("coffee", "brick")),
    "photo-C": (CONFIRM, "photo", ("chelsea", "moon")),
    "photo-D": (CONFIRM, "photo", ("coins", "grass")),
    "dead_leaves": (TUNE, "engine", ("dead_leaves",)),
    "grf": (CONFIRM, "engine", ("grf",)),
    "lines": (CONFIRM, "engine", ("lines",)),
    "siemens": (TUNE, "engine", ("siemens",)),
    "goldballs": (CONFIRM, "goldballs", ()),
}
ROLE_SEED = {TUNE: 1, CONFIRM: 2}

SIZES = (400, 2025)
RASTER = {400: (20, 20), 2025: (45, 45)}
GOLDBALLS_SIZES = (400, 1595)
DOSES = {"1e6": 1e6, "1e4": 1e4}
NS = (64, 128)
STEP_PX = {64: 7.0, 128: 14.0}
PROBE_DIAMETER_PX = {64: 30.5, 128: 61.0}
DEFOCUS_RAD = 12.0
PHOTO_AMP_MIN = 0.3

TRANSFERS = (
    ("photo-A/2025/1e6/N64", "photo-B/2025/1e6/N64"),
    ("dead_leaves/2025/1e6/N64", "photo-C/2025/1e6/N64"),
    ("photo-A/2025/1e4/N64", "photo-D/2025/1e4/N64"),
)

QUICK = ("photo-A/400/1e6/N64", "photo-A/400/1e4/N64", "dead_leaves/2025/1e6/N64",
         "siemens/400/1e6/N64")
"""``--cases quick``: tune cases only, N = 64, a few minutes each."""

README = ("photo-A/400/1e6/N64", "photo-A/400/1e4/N64", "photo-A/2025/1e6/N64",
          "photo-B/400/1e6/N64", "photo-B/400/1e4/N64", "photo-C/2025/1e4/N64",
          "photo-D/400/1e4/N64", "grf/400/1e6/N64", "lines/400/1e6/N64",
          "goldballs/400/1e4/N64", "photo-B/400/1e6/N128",
          "transfer:photo-A/2025/1e6/N64->photo-B/2025/1e6/N64")
"""``--cases readme``: the README's table (tune and confirm, both sizes and doses, N 128,
a transfer), about 2.5 hours on 2 cores."""


@dataclass(frozen=True)
class Case:
    """One benchmark case; ``train`` is set for a transfer case (then family etc. are the
    apply case's)."""

    name: str
    family: str
    size: int
    dose: str
    N: int
    role: str
    train: str | None = None

    @property
    def photons(self) -> float:
        return DOSES[self.dose]

    @property
    def size_class(self) -> str:
        """'400' or '2k' (2,025 positions, or the 1,595 of the real gold-balls scan)."""
        return "400" if self.size <= 1000 else "2k"

    @property
    def slug(self) -> str:
        """The name as a file name."""
        return (self.name.replace("transfer:", "transfer_").replace("->", "_to_")
                .replace("/", "_"))


def case_name(family: str, size: int, dose: str, N: int) -> str:
    return f"{family}/{size}/{dose}/N{N}"


def all_cases() -> list[Case]:
    """Every case of the full suite: 8 families x 2 sizes x 2 doses x 2 N, gold balls
    (2 sizes x 2 doses, N 64) and the transfer cases."""
    cases = []
    for family, (role, kind, _) in FAMILIES.items():
        sizes, ns = (GOLDBALLS_SIZES, (64,)) if kind == "goldballs" else (SIZES, NS)
        for N in ns:
            for size in sizes:
                for dose in DOSES:
                    cases.append(Case(case_name(family, size, dose, N), family, size, dose, N,
                                      role))
    by_name = {case.name: case for case in cases}
    for train, apply in TRANSFERS:
        target = by_name[apply]
        cases.append(Case(f"transfer:{train}->{apply}", target.family, target.size, target.dose,
                          target.N, target.role, train=train))
    return cases


def case_by_name(name: str) -> Case:
    for case in all_cases():
        if case.name == name:
            return case
    raise KeyError(name)


def select_cases(patterns: str | None) -> list[Case]:
    """The cases matching a comma list of names or fnmatch patterns ('quick': QUICK,
    'readme': README;
    'all' or None: every case), in suite order."""
    cases = all_cases()
    if not patterns or patterns == "all":
        return cases
    wanted: list[str] = []
    for item in (p.strip() for p in patterns.split(",")):
        if item:
            wanted.extend({"quick": QUICK, "readme": README}.get(item, (item,)))
    chosen = [case for case in cases
              if any(fnmatch.fnmatchcase(case.name, pattern) for pattern in wanted)]
    unmatched = [p for p in wanted
                 if not any(fnmatch.fnmatchcase(case.name, p) for case in cases)]
    if unmatched:
        raise SystemExit(f"--cases: no case matches {', '.join(unmatched)}; see --list")
    return chosen


def _seed(*parts: object) -> int:
    return int(np.random.SeedSequence([zlib.crc32(str(p).encode()) for p in parts])
               .generate_state(1)[0])


def object_seed(case: Case) -> int:
    return _seed(ROLE_SEED[case.role], case.family, case.size, case.N)


def noise_seed(case: Case) -> int:
    return _seed(ROLE_SEED[case.role], case.name, "noise")


# --- objects -------------------------------------------------------------------------------

def _photo(name: str) -> np.ndarray:
    """A scikit-image sample image as float64 grayscale."""
    from skimage import color, data

    image = np.asarray(getattr(data, name)())
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    return image.astype(np.float64)


def _fit_photo(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre crop to the aspect ratio of shape, resized to shape, robustly scaled to [0, 1]
    (1st and 99th percentiles)."""
    from skimage.transform import resize

    height, width = image.shape
    target = shape[0] / shape[1]
    if height / width > target:
        rows = round(width * target)
        image = image[(height - rows) // 2:(height - rows) // 2 + rows]
    else:
        cols = round(height / target)
        image = image[:, (width - cols) // 2:(width - cols) // 2 + cols]
    image = resize(image, shape, order=3, anti_aliasing=True, mode="reflect")
    low, high = np.percentile(image, [1, 99])
    return np.clip((image - low) / max(high - low, 1e-12), 0.0, 1.0)


def photo_object(pair: tuple[str, str], shape: tuple[int, int]) -> np.ndarray:
    """amplitude 0.3 + 0.7·photo 1, phase π·(photo 2 − 0.5): (H, W) complex64."""
    amplitude = PHOTO_AMP_MIN + (1 - PHOTO_AMP_MIN) * _fit_photo(_photo(pair[0]), shape)
    phase = np.pi * (_fit_photo(_photo(pair[1]), shape) - 0.5)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _goldballs_origin(path: Path) -> tuple[int, int]:
    """(row, col) of the cropped object's pixel [0, 0] in the file's objectGuess (the same
    corner-value padding rule as the simulator's ``file:`` loader)."""
    from ptycho_engine.simulation.objects import read_npz_array

    obj = read_npz_array(path, "objectGuess")
    differs = np.abs(obj - obj[0, 0]) > 1e-6 * max(1.0, float(np.abs(obj[0, 0])))
    return int(np.flatnonzero(differs.any(axis=1))[0]), int(np.flatnonzero(differs.any(axis=0))[0])


def goldballs_positions(size: int, path: Path = GOLDBALLS) -> np.ndarray:
    """Real positions [x, y] in the cropped object's frame: all, or the ones nearest to a
    20 x 20 grid over the scanned area (duplicates dropped)."""
    from ptycho_engine.simulation.objects import read_npz_array

    row0, col0 = _goldballs_origin(path)
    positions = np.stack([read_npz_array(path, "xcoords") - col0,
                          read_npz_array(path, "ycoords") - row0], axis=1).astype(np.float64)
    if size >= len(positions):
        return positions
    side = round(math.sqrt(size))
    low, high = positions.min(axis=0), positions.max(axis=0)
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], side), np.linspace(low[1], high[1], side))
    nodes = np.stack([gx.ravel(), gy.ravel()], axis=1)
    nearest = np.argmin(((nodes[:, None, :] - positions[None]) ** 2).sum(-1), axis=1)
    return positions[np.unique(nearest)]


# --- probes and scans ----------------------------------------------------------------------

def intensity_fwhm_px(probe: np.ndarray) -> float:
    """Full width at half maximum of the azimuthally averaged intensity |P|², pixels
    (outermost half-maximum crossing, linearly interpolated, 0.5 px rings around N/2)."""
    intensity = np.abs(probe).astype(np.float64) ** 2
    N = probe.shape[0]
    rows, cols = np.indices(intensity.shape)
    radius = np.hypot(rows - N / 2, cols - N / 2)
    edges = np.arange(0.0, N / 2 + 1, 0.5)
    ring = np.digitize(radius.ravel(), edges) - 1
    total = np.bincount(ring, intensity.ravel(), len(edges))
    count = np.bincount(ring, None, len(edges))
    profile = total / np.maximum(count, 1)
    centres = edges + 0.25
    half = profile.max() / 2
    k = int(np.flatnonzero(profile >= half)[-1])
    if k + 1 >= len(profile):
        return float(2 * centres[k])
    fraction = (profile[k] - half) / (profile[k] - profile[k + 1])
    return float(2 * (centres[k] + fraction * (centres[k + 1] - centres[k])))


def probe_for(case: Case) -> np.ndarray:
    """The case's probe before photon scaling, (N, N) complex64."""
    from ptycho_engine.simulation.probes import make_probe

    if FAMILIES[case.family][1] == "goldballs":
        return make_probe(f"file:{GOLDBALLS}", case.N)
    return make_probe("defocused", case.N, PROBE_DIAMETER_PX[case.N], DEFOCUS_RAD)


def object_and_positions(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The case's true object (H, W) complex64 and its positions (n, 2) [x, y] in it."""
    from ptycho_engine.simulation.objects import make_object
    from ptycho_engine.simulation.scans import place_in_new_object, raster_positions

    _, kind, params = FAMILIES[case.family]
    if kind == "goldballs":
        if not GOLDBALLS.is_file():
            raise FileNotFoundError(f"{GOLDBALLS} is missing (see ../shared/data/README.md)")
        obj = make_object(f"file:{GOLDBALLS}", 0, 0)
        positions = goldballs_positions(case.size)
        half = case.N / 2
        if (positions.min() < half or positions[:, 0].max() > obj.shape[1] - half
                or positions[:, 1].max() > obj.shape[0] - half):
            raise ValueError(f"{case.name}: the real positions do not fit N = {case.N} patches "
                             f"inside the {obj.shape} object")
        return obj, positions
    positions, (height, width) = place_in_new_object(
        raster_positions(RASTER[case.size], STEP_PX[case.N]), case.N)
    if kind == "photo":
        return photo_object(params, (height, width)), positions
    side = max(height, width)
    obj = make_object(params[0], side, object_seed(case))[:height, :width]
    return np.ascontiguousarray(obj), positions


def scan_path(workdir: Path, case: Case) -> Path:
    return workdir / f"scans-{SCAN_VERSION}" / f"{case.slug}.npz"


def simulate_case(case: Case, workdir: Path) -> tuple[Path, bool]:
    """The case's scan file (NPZ, readable by the CLI), simulated once and cached.

    Returns (path, True if simulated now). A transfer case has no scan of its own.
    """
    from ptycho_engine.data.io import save_scan
    from ptycho_engine.simulation.diffraction import simulate_scan

    if case.train is not None:
        raise ValueError("a transfer case uses the scans of its two cases")
    path = scan_path(workdir, case)
    if path.is_file():
        return path, False
    obj, positions = object_and_positions(case)
    scan = simulate_scan(obj, probe_for(case), positions, case.photons, noise_seed(case),
                         True, extra={"suite_case": case.name})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_scan(scan, path)
    return path, True


def covered_mask(shape: tuple[int, int], positions: np.ndarray, crop: int) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies in the central crop x crop box of some scan
    position, in the object frame of ``positions`` ([x, y], patch centre at pixel N/2);
    the region a stitch with ``inference.stitch_crop = crop`` fills."""
    covered = np.zeros(shape, dtype=bool)
    height, width = shape
    for x, y in np.asarray(positions, dtype=np.float64):
        r0, r1 = max(0, math.ceil(y - crop / 2)), min(height, math.ceil(y + crop / 2))
        c0, c1 = max(0, math.ceil(x - crop / 2)), min(width, math.ceil(x + crop / 2))
        covered[r0:r1, c0:c1] = True
    return covered
