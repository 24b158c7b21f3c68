"""The engine never imports the GUI (it must run headless on cluster nodes)."""

import subprocess
import sys


def test_engine_import_loads_no_qt():
    code = ("import sys, ptycho_engine, ptycho_engine.training.fit, ptycho_engine.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_light_import_does_not_load_torch():
    code = "import sys, ptycho_engine; assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
