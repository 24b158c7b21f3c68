"""Run the CLI as a real subprocess, as users and batch jobs do."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PTYCHO_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "ptycho_engine.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or REPO, env=env,
                          timeout=timeout)


@pytest.fixture(scope="session")
def demo_scan() -> Path:
    return REPO / "resources" / "demo" / "demo_scan.npz"


@pytest.fixture(scope="session")
def small_scan(tmp_path_factory) -> Path:
    """A 96-pattern, 32x32 simulated scan written by the CLI itself."""
    path = tmp_path_factory.mktemp("cli") / "small.npz"
    result = run_cli("simulate", "--N", "32", "--patterns", "96", "--step", "3",
                     "--photons", "1e5", "--seed", "5", "--out", path)
    assert result.returncode == 0, result.stderr
    return path
