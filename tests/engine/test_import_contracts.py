"""The architecture as import arrows: ``lint-imports`` checks the contracts in pyproject.toml
(engine layers, no cycles, no GUI in the engine, the app on the public API only)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def lint_imports() -> str:
    """The venv's lint-imports executable (beside this Python), else one on PATH."""
    beside = Path(sys.executable).parent / "lint-imports"
    if beside.is_file():
        return str(beside)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[test]' installs "
                    "import-linter), so the import contracts cannot be checked")
    return found


def test_import_contracts_are_kept():
    result = subprocess.run([lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_engine_module_lives_in_a_package():
    loose = sorted(path.name for path in (ROOT / "ptycho_engine").glob("*.py"))
    assert loose == ["__init__.py", "api.py"]
