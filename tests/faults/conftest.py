"""Tiny data, a CLI launcher and a full-disk injector for the fault tests."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from ptycho_engine.core.config import PtychoConfig, save_config, with_overrides
from ptycho_engine.simulation import SimulationSpec, simulate_from_spec

REPO = Path(__file__).resolve().parents[2]


def tiny_config(**overrides) -> PtychoConfig:
    """N = 32, one narrow network: an epoch on the tiny scan takes a fraction of a second."""
    values = {"data.N": 32, "data.gridsize": 1, "data.n_groups": 0,
              "model.n_filters_scale": 1, "training.epochs": 2, "training.batch_size": 16,
              "training.val_fraction": 0.1, "inference.stitch_crop": 16,
              "training.preview_every": 1000, "training.device": "cpu"}
    values.update(overrides)
    return with_overrides(PtychoConfig(), values)


@pytest.fixture(scope="session")
def tiny_scan():
    """64 noisy 32x32 patterns on a Fermat spiral over a Siemens star."""
    return simulate_from_spec(SimulationSpec(N=32, patterns=64, step_px=3.0, photons=1e5,
                                             seed=11))


@pytest.fixture(scope="session")
def tiny_scan_file(tiny_scan, tmp_path_factory) -> Path:
    from ptycho_engine.data.io import save_scan

    path = tmp_path_factory.mktemp("faults") / "tiny_scan.npz"
    save_scan(tiny_scan, path)
    return path


@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faults_config") / "tiny.toml"
    save_config(tiny_config(), path)
    return path


@pytest.fixture(scope="session")
def trained(tiny_scan, tmp_path_factory):
    """A TrainingResult of 1 epoch on the tiny scan (its run folder has checkpoints)."""
    from ptycho_engine.training.fit import train

    run = tmp_path_factory.mktemp("faults_run") / "run"
    return train(tiny_scan, tiny_config(**{"training.epochs": 1}), run_dir=run)


def cli_env() -> dict[str, str]:
    return dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PTYCHO_NUM_THREADS="1",
                PYTHONWARNINGS="ignore", PYTHONUNBUFFERED="1")


def start_cli(*args: str | Path, cwd: Path = REPO) -> subprocess.Popen:
    """``ptycho-engine ARGS`` as a child process with piped text output."""
    return subprocess.Popen([sys.executable, "-m", "ptycho_engine.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env=cli_env())


def run_cli(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ptycho_engine.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, env=cli_env(),
                          timeout=timeout)


def history_rows(path: Path) -> int:
    """Finished epochs in a run's history.csv (0 while it does not exist)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return 0
    return max(len(lines) - 1, 0)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float,
             what: str) -> None:
    """Poll ``condition`` every 50 ms; fail if ``process`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the CLI ended (status {process.returncode}) before {what}:\n"
                        f"{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{out}\n{err}")
        time.sleep(0.05)


class DiskFull:
    """Makes ``ptycho_engine.core.atomic`` writes fail with ENOSPC, as a full disk does.

    Only files whose name passes ``matches`` fail: their writes succeed until
    ``budget`` bytes have gone to disk, then raise OSError(ENOSPC) (part of the
    data really is written, as on a disk that fills up mid-file). With
    ``at_fsync`` the data all goes through and ``os.fsync`` fails instead, as
    on network file systems that report a full disk only then.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import ptycho_engine.core.atomic as atomic

        self.matches: Callable[[Path], bool] = lambda path: False
        self.budget = 0
        self.at_fsync = False
        self.failed: list[Path] = []
        self._names: dict[int, Path] = {}
        self._failing_fds: dict[int, Path] = {}
        real_os, real_tempfile = atomic.os, atomic.tempfile

        def mkstemp(*args, **kwargs):
            fd, name = real_tempfile.mkstemp(*args, **kwargs)
            self._names[fd] = Path(name)
            return fd, name

        def fdopen(fd, *args, **kwargs):
            handle = real_os.fdopen(fd, *args, **kwargs)
            temp = self._names.pop(fd, None)
            target = None if temp is None else temp.with_name(
                temp.name[1:].rsplit(".", 2)[0])  # ".name.XXXX.tmp" -> "name"
            if target is None or not self.matches(target):
                return handle
            self._failing_fds[fd] = target
            return _FillingHandle(handle, self, target)

        def fsync(fd):
            target = self._failing_fds.pop(fd, None)
            if self.at_fsync and target is not None:
                self.failed.append(target)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_os.fsync(fd)

        os_proxy = types.SimpleNamespace(**{name: getattr(real_os, name)
                                            for name in dir(real_os) if not name.startswith("__")})
        os_proxy.fdopen, os_proxy.fsync = fdopen, fsync
        tempfile_proxy = types.SimpleNamespace(mkstemp=mkstemp)
        monkeypatch.setattr(atomic, "os", os_proxy)
        monkeypatch.setattr(atomic, "tempfile", tempfile_proxy)

    def fail(self, matches: Callable[[Path], bool] | str, *, budget: int = 0,
             at_fsync: bool = False) -> DiskFull:
        """Arm the fault for files whose name ends with ``matches`` (or that it accepts)."""
        self.matches = (matches if callable(matches)
                        else lambda path: path.name.endswith(matches))
        self.budget, self.at_fsync = budget, at_fsync
        return self


class _FillingHandle:
    """A binary file handle whose disk is full after ``disk.budget`` bytes."""

    def __init__(self, handle, disk: DiskFull, target: Path):
        self._handle, self._disk, self._target = handle, disk, target
        self._written = 0

    def write(self, data) -> int:
        if self._disk.at_fsync:
            return self._handle.write(data)
        room = self._disk.budget - self._written
        if len(data) > room:
            if room > 0:
                self._handle.write(bytes(memoryview(data)[:room]))
                self._written += room
            self._disk.failed.append(self._target)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._written += len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return self._handle.__exit__(*exc_info)


@pytest.fixture
def disk_full(monkeypatch) -> DiskFull:
    return DiskFull(monkeypatch)


FUZZ_TALLY = pytest.StashKey[dict]()


@pytest.fixture
def fuzz_tally(request) -> dict[str, int]:
    """Counts of fuzz cases per format: '<format> valid' and '<format> refused'."""
    return request.config.stash.setdefault(FUZZ_TALLY, {})


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    tally = config.stash.get(FUZZ_TALLY, None)
    if not tally:
        return
    formats = sorted({key.split()[0] for key in tally})
    parts = []
    for name in formats:
        valid, refused = tally.get(f"{name} valid", 0), tally.get(f"{name} refused", 0)
        parts.append(f"{name} {valid + refused} ({valid} loaded, {refused} refused)")
    total = sum(tally.values())
    terminalreporter.write_line(f"fuzz cases: {total} in all: " + "; ".join(parts))
