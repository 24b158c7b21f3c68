"""Damaged NPZ, CXI/HDF5, TOML config and bundle files, tried by the hundred.

Every load ends in a valid object or a PtychoError with a message: never
another exception, a hang (each case has a 2 s deadline and a 10 s alarm) or a
crash. The cases are drawn deterministically (derandomize), so a failure
reproduces; PTYCHO_FUZZ_EXAMPLES=2000 tries more of them locally.
The tally per format is printed at the end of the pytest run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptycho_engine.core.errors import PtychoError

from .conftest import tiny_config
from .fuzz_inputs import (
    base_arrays,
    damage_cxi,
    damaged_bundle,
    damaged_bytes,
    damaged_npz,
    damaged_toml,
    npz_bytes,
    write_base_cxi,
)

EXAMPLES = int(os.environ.get("PTYCHO_FUZZ_EXAMPLES", "200"))
HANG_S = 10.0
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=2), derandomize=True,
                database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


class Hang(Exception):
    """A load that did not return within HANG_S seconds."""


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise Hang in this (main) thread after ``seconds``: a stuck reader fails the test."""
    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer after {seconds} s")

    if not hasattr(signal, "setitimer"):  # Windows: hypothesis' deadline still applies
        yield
        return
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def settle(fmt: str, load: Callable[[], Any], tally: dict[str, int]) -> Any:
    """Run ``load``; a PtychoError (with a message) or a value are the only outcomes allowed."""
    with alarm(HANG_S):
        try:
            value = load()
        except PtychoError as error:
            assert str(error).strip(), f"{type(error).__name__} without a message"
            tally[f"{fmt} refused"] = tally.get(f"{fmt} refused", 0) + 1
            return None
    tally[f"{fmt} valid"] = tally.get(f"{fmt} valid", 0) + 1
    return value


def use_scan(path: Path, intensities: bool):
    """What ``inspect`` and the app do with a scan they opened: load, summarise, read."""
    from ptycho_engine.data.io import load_scan, summarize_scan

    scan = load_scan(path, intensities=intensities)
    summarize_scan(scan)
    scan.pattern(0)
    scan.pattern(scan.n_patterns - 1)
    return scan


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def base_cxi(folder) -> Path:
    path = folder / "base.cxi"
    write_base_cxi(path)
    return path


@pytest.fixture(scope="module")
def base_bundle(folder) -> bytes:
    import numpy as np

    from ptycho_engine.bundle import export_bundle
    from ptycho_engine.core.config import to_dict
    from ptycho_engine.model.pinn import PtychoPINN

    yy, xx = np.mgrid[:32, :32] - 16
    probe = np.exp(-(xx**2 + yy**2) / 50.0).astype(np.complex64)
    module = PtychoPINN(config=to_dict(tiny_config()), intensity_scale=100.0, canvas=40,
                        probe=probe)
    path = export_bundle(module, folder / "base.ptyz")
    return path.read_bytes()


def test_bases_are_valid(folder, base_cxi, base_bundle):
    """The undamaged files load, so every refusal below is caused by the damage."""
    from ptycho_engine.bundle import load_bundle
    from ptycho_engine.core.config import config_to_toml, load_config

    (folder / "ok.npz").write_bytes(npz_bytes(base_arrays()))
    assert use_scan(folder / "ok.npz", False).n_patterns == 12
    assert use_scan(base_cxi, False).n_patterns == 12
    (folder / "ok.toml").write_text(config_to_toml(tiny_config()))
    assert load_config(folder / "ok.toml") == tiny_config()
    (folder / "ok.ptyz").write_bytes(base_bundle)
    assert load_bundle(folder / "ok.ptyz").N == 32


NPZ_BASES = (npz_bytes(base_arrays()), npz_bytes(base_arrays(), compressed=True))


@FUZZ
@given(raw=st.one_of(damaged_npz(), damaged_bytes(NPZ_BASES[0]), damaged_bytes(NPZ_BASES[1])),
       intensities=st.booleans())
def test_fuzz_npz(raw, intensities, folder, fuzz_tally):
    path = folder / "case.npz"
    path.write_bytes(raw)
    settle("npz", lambda: use_scan(path, intensities), fuzz_tally)


@FUZZ
@given(data=st.data())
def test_fuzz_cxi(data, folder, base_cxi, fuzz_tally):
    path = folder / "case.cxi"
    if data.draw(st.booleans(), label="structured"):
        shutil.copyfile(base_cxi, path)
        damage_cxi(data.draw, path)
    else:
        path.write_bytes(data.draw(damaged_bytes(base_cxi.read_bytes()), label="bytes"))
    settle("cxi", lambda: use_scan(path, False), fuzz_tally)


def toml_base() -> str:
    from ptycho_engine.core.config import config_to_toml

    return config_to_toml(tiny_config())


@FUZZ
@given(raw=st.one_of(damaged_toml(toml_base()), damaged_bytes(toml_base().encode())))
def test_fuzz_config(raw, folder, fuzz_tally):
    from ptycho_engine.core.config import load_config

    path = folder / "case.toml"
    path.write_bytes(raw)
    settle("toml", lambda: load_config(path), fuzz_tally)


@FUZZ
@given(data=st.data())
def test_fuzz_bundle(data, folder, base_bundle, fuzz_tally):
    from ptycho_engine.bundle import load_bundle

    if data.draw(st.integers(0, 3), label="bytes") == 0:
        raw = data.draw(damaged_bytes(base_bundle))
    else:
        raw = data.draw(damaged_bundle(base_bundle))
    path = folder / "case.ptyz"
    path.write_bytes(raw)
    bundle = settle("bundle", lambda: load_bundle(path), fuzz_tally)
    if bundle is not None:
        bundle.to_module("cpu")
