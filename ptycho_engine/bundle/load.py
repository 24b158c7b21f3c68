"""``load_bundle``: open a model bundle safely and rebuild its network on any device.

Order of checks: the zip listing (names, sizes, ratios), the manifest (format,
version, its own seal), every member's SHA-256, the config, the weights'
names and shapes against the network the config describes, the probe, the
history. Nothing here imports Lightning: a bundle rebuilds a plain
``PtychoPINN``. Loading reads plain data only (JSON, TOML, CSV, safetensors, .npy
without pickle) and never runs code from the file, and it leaves torch's global
random state untouched, so two bundles in one process never see each other.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from ..api import EpochRecord
from ..core.config import PtychoConfig, stored_config, tomllib
from ..core.devices import resolve_device
from ..core.errors import BundleError, ConfigError
from ..model.network import build_network
from ..model.pinn import PtychoPINN
from ..training.convergence import Convergence, recorded_convergence
from ..training.run_folder import parse_history
from .archive import checked_listing, open_archive, read_member
from .format import (
    CONFIG,
    HISTORY,
    MANIFEST,
    MEMBER_LIMITS,
    PROBE,
    REQUIRED_MEMBERS,
    WEIGHTS,
    check_version,
    sha256_hex,
    verify_manifest_seal,
)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A checked model bundle held in memory.

    state_dict: the PtychoPINN's persistent tensors (CPU, float32).
    probe: (N, N) complex64 normalised probe (the one the model trained with).
    """

    path: Path
    manifest: dict[str, Any]
    config: PtychoConfig
    state_dict: dict[str, torch.Tensor]
    probe: np.ndarray
    history: tuple[EpochRecord, ...]

    @property
    def N(self) -> int:
        return self.config.data.N

    @property
    def gridsize(self) -> int:
        return self.config.data.gridsize

    @property
    def intensity_scale(self) -> float:
        """The trained scale exp(log_scale)."""
        return float(self.manifest["intensity_scale"])

    @property
    def initial_intensity_scale(self) -> float:
        """The scale computed from the training data, before training adjusted it."""
        return float(self.manifest["initial_intensity_scale"])

    @property
    def canvas(self) -> int:
        return int(self.manifest["canvas"])

    @property
    def convergence(self) -> Convergence:
        """The verdict on the training that made this model (recorded at export; judged from
        the history for bundles written before verdicts were recorded, 'unknown' when
        that is not possible)."""
        training = self.manifest.get("training")
        return recorded_convergence(training if isinstance(training, dict) else {},
                                    self.history)

    def to_module(self, device: str | torch.device | None = None) -> PtychoPINN:
        """A fresh PtychoPINN in eval mode on ``device`` (None/'auto': GPU when present)."""
        target = resolve_device(device)
        module = _blank_module(self.config, self.initial_intensity_scale, self.canvas)
        try:
            module.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as error:
            raise BundleError(f"the weights do not fit this engine's network ({error})",
                              source=self.path, key=WEIGHTS) from None
        return module.to(target).eval()

    def summary(self) -> dict[str, Any]:
        """What ``ptycho-engine info`` shows: versions, network, scales, training, data."""
        manifest = self.manifest
        size = self.path.stat().st_size if self.path.is_file() else None
        return {
            "path": str(self.path), "file_bytes": size,
            "format": manifest["format"], "format_version": manifest["format_version"],
            "engine_version": manifest.get("engine_version"), "created": manifest.get("created"),
            "N": self.N, "gridsize": self.gridsize,
            "intensity_scale": self.intensity_scale,
            "initial_intensity_scale": self.initial_intensity_scale, "canvas": self.canvas,
            "probe": manifest.get("probe"), "weights": manifest.get("weights"),
            "training": manifest.get("training"), "provenance": manifest.get("provenance"),
            "metrics": manifest.get("metrics"), "config": manifest.get("config"),
            "convergence": self.convergence.to_dict(),
        }


def _blank_module(config: PtychoConfig, intensity_scale: float, canvas: int) -> PtychoPINN:
    """A PtychoPINN whose weights are about to be replaced; torch's RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        return PtychoPINN(config, intensity_scale, canvas)


def load_bundle(path: str | Path) -> Bundle:
    """Open and check a bundle; BundleError naming the file and the member on any problem."""
    path = Path(path)
    with open_archive(path) as archive:
        listing = checked_listing(archive, path, MEMBER_LIMITS)
        if MANIFEST not in listing:
            raise BundleError("missing: this zip is not a Ptycho Studio model bundle, or it "
                              "was damaged", source=path, key=MANIFEST)
        raw_manifest = read_member(archive, listing[MANIFEST], path)
        manifest = _parse_manifest(raw_manifest, path)
        check_version(manifest, source=path)
        verify_manifest_seal(raw_manifest, manifest, source=path)
        members = _read_listed_members(archive, listing, manifest, path)
    _check_sections(manifest, path)
    config = _config(manifest, members[CONFIG], path)
    state = _weights(members[WEIGHTS], path)
    _check_manifest_numbers(manifest, config, state, path)
    _check_weights_fit(state, config, path)
    probe = _probe(members[PROBE], state, config.data.N, path)
    try:
        history = tuple(parse_history(members[HISTORY]))
    except ValueError as error:
        raise BundleError(str(error), source=path, key=HISTORY) from None
    return Bundle(path=path, manifest=manifest, config=config, state_dict=state, probe=probe,
                  history=history)


def _parse_manifest(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise BundleError(f"is not valid JSON ({type(error).__name__}: {error}); the bundle "
                          "is damaged", source=path, key=MANIFEST) from None
    if not isinstance(manifest, dict):
        raise BundleError(f"holds a JSON {type(manifest).__name__}, not an object",
                          source=path, key=MANIFEST)
    return manifest


_SECTIONS = {"probe": dict, "weights": dict, "training": dict, "provenance": dict,
             "metrics": (dict, type(None)), "engine_version": str, "created": str}


def _check_sections(manifest: dict[str, Any], path: Path) -> None:
    """The descriptive parts have the types ``info`` relies on."""
    for key, kind in _SECTIONS.items():
        if not isinstance(manifest.get(key), kind):
            raise BundleError(f"is {type(manifest.get(key)).__name__}, not the expected "
                              f"{getattr(kind, '__name__', 'table or null')}", source=path,
                              key=f"{MANIFEST}: {key}")


def _read_listed_members(archive: Any, listing: dict[str, Any], manifest: dict[str, Any],
                         path: Path) -> dict[str, bytes]:
    """Every member named in the manifest, its SHA-256 checked; unlisted members refused."""
    checksums = manifest.get("members")
    if not isinstance(checksums, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in checksums.items()):
        raise BundleError("has no 'members' table of SHA-256 checksums; the manifest is "
                          "damaged", source=path, key=f"{MANIFEST}: members")
    for name in REQUIRED_MEMBERS:
        if name not in checksums:
            raise BundleError("is not listed in the manifest's members; the bundle is "
                              "incomplete", source=path, key=name)
    for name in listing:
        if name != MANIFEST and name not in checksums:
            raise BundleError("is not listed in the manifest, so it was added after export; "
                              "refused", source=path, key=name)
    members = {}
    for name, expected in checksums.items():
        if name not in listing:
            raise BundleError("missing from the archive although the manifest lists it; the "
                              "bundle is incomplete; export it again", source=path, key=name)
        data = read_member(archive, listing[name], path)
        if sha256_hex(data) != expected:
            raise BundleError("checksum mismatch: the member was changed after export "
                              "(damaged copy or tampering); export the model again",
                              source=path, key=name)
        members[name] = data
    return members


def _config(manifest: dict[str, Any], config_toml: bytes, path: Path) -> PtychoConfig:
    values = manifest.get("config")
    if not isinstance(values, dict):
        raise BundleError("missing or not a table", source=path, key=f"{MANIFEST}: config")
    try:
        config = stored_config(values)
    except ConfigError as error:
        raise BundleError(f"invalid ({error}); the bundle was made by an incompatible "
                          "version or edited", source=path, key=f"{MANIFEST}: config") from None
    try:
        human = stored_config(tomllib.loads(config_toml.decode("utf-8")))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError, RecursionError) as error:
        raise BundleError(f"invalid ({error})", source=path, key=CONFIG) from None
    if human != config:
        raise BundleError(f"disagrees with the config in {MANIFEST}; the bundle is "
                          "inconsistent", source=path, key=CONFIG)
    return config


def _weights(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    try:
        state = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as error:
        raise BundleError(f"is not a safetensors file ({error}); refused", source=path,
                          key=WEIGHTS) from None
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise BundleError(f"tensor '{name}' has dtype {tensor.dtype}; expected floats",
                              source=path, key=WEIGHTS)
        if not torch.isfinite(tensor).all():
            raise BundleError(f"tensor '{name}' holds NaN or Inf; the model diverged before "
                              "export", source=path, key=WEIGHTS)
    return state


def _number(manifest: dict[str, Any], key: str, path: Path) -> float:
    value = manifest.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise BundleError(f"is {value!r}; expected a positive number", source=path,
                          key=f"{MANIFEST}: {key}")
    return float(value)


def _check_manifest_numbers(manifest: dict[str, Any], config: PtychoConfig,
                            state: dict[str, torch.Tensor], path: Path) -> None:
    """N, gridsize, canvas and scales in the manifest agree with the config and weights."""
    for key, expected in (("N", config.data.N), ("gridsize", config.data.gridsize)):
        if manifest.get(key) != expected:
            raise BundleError(f"is {manifest.get(key)!r} but the config says {expected}",
                              source=path, key=f"{MANIFEST}: {key}")
    canvas = _number(manifest, "canvas", path)
    if canvas != int(canvas) or canvas < config.data.N:
        raise BundleError(f"is {canvas}; expected an integer >= N = {config.data.N}",
                          source=path, key=f"{MANIFEST}: canvas")
    _number(manifest, "initial_intensity_scale", path)
    scale = _number(manifest, "intensity_scale", path)
    log_scale = state.get("log_scale")
    if log_scale is not None and log_scale.numel() == 1:
        trained = float(torch.exp(log_scale.float()).item())
        if abs(trained - scale) > 1e-5 * scale:
            raise BundleError(f"is {scale} but the weights hold exp(log_scale) = {trained}",
                              source=path, key=f"{MANIFEST}: intensity_scale")


def expected_shapes(config: PtychoConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a PtychoPINN's state_dict for ``config``.

    Built from the plain network (no Lightning import, so ``info`` stays quick)
    plus the module's own tensors: log_scale, the probe's real/imag buffers and,
    with physics refinement, its step sizes.
    The network is built on the meta device: shapes only, no memory and no
    initialisation, however large the network a (damaged) config describes.
    """
    with torch.random.fork_rng(devices=[]), torch.device("meta"):
        network = build_network(config.data, config.model)
    N = config.data.N
    shapes = {f"network.{name}": tuple(t.shape) for name, t in network.state_dict().items()}
    own: dict[str, tuple[int, ...]] = {"log_scale": (), "probe_real": (N, N),
                                       "probe_imag": (N, N)}
    if config.model.refine_steps > 0:
        own["refine_step_sizes"] = (config.model.refine_steps,)
    return {**own, **shapes}


def _check_weights_fit(state: dict[str, torch.Tensor], config: PtychoConfig,
                       path: Path) -> None:
    """Every tensor the network needs is present with the right shape, and nothing else."""
    expected = expected_shapes(config)
    for name, shape in expected.items():
        if name not in state:
            raise BundleError(f"tensor '{name}' is missing; the weights do not fit the network "
                              "the config describes", source=path, key=WEIGHTS)
        if tuple(state[name].shape) != shape:
            raise BundleError(f"tensor '{name}' has shape {tuple(state[name].shape)} but the "
                              f"network the config describes needs {shape}", source=path,
                              key=WEIGHTS)
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        raise BundleError(f"holds tensors the network does not have ({', '.join(unexpected[:5])}"
                          f"); the weights do not fit the config", source=path, key=WEIGHTS)


def _probe(data: bytes, state: dict[str, torch.Tensor], N: int, path: Path) -> np.ndarray:
    """probe.npy, read without pickle, equal to the weights' probe buffers."""
    try:
        probe = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        reason = ("holds pickled Python objects, which are never loaded (unpickling can run "
                  "code); refused" if "allow_pickle" in str(error) or "Object arrays"
                  in str(error) else f"is not a valid .npy array ({error})")
        raise BundleError(reason, source=path, key=PROBE) from None
    except (OSError, EOFError) as error:
        raise BundleError(f"is not a valid .npy array ({error})", source=path, key=PROBE) from None
    if not isinstance(probe, np.ndarray) or probe.dtype != np.complex64 or probe.shape != (N, N):
        raise BundleError(f"has dtype {getattr(probe, 'dtype', '?')} and shape "
                          f"{getattr(probe, 'shape', '?')}; expected complex64 ({N}, {N})",
                          source=path, key=PROBE)
    weights_probe = torch.complex(state["probe_real"].float(), state["probe_imag"].float())
    if not np.array_equal(probe, weights_probe.numpy()):
        raise BundleError(f"differs from the probe stored in {WEIGHTS}; the bundle is "
                          "inconsistent", source=path, key=PROBE)
    return probe
