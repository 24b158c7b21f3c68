"""Test configuration shared by every test folder.

Qt runs offscreen and torch uses one passive thread, set here before any Qt or
torch import so the product itself never has to.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("PTYCHO_NUM_THREADS", "1")

import faulthandler  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

HUNG_TEST_SECONDS = 600  # the longest test takes ~30 s; ten minutes means a deadlock

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real files written by other programs; skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data folder {SHARED_DATA} is not present on this machine")
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test still running after HUNG_TEST_SECONDS prints every thread's stack and ends
    the run (exit code 1): a deadlock then explains itself in a red CI log instead of
    eating CI's whole time budget in silence."""
    faulthandler.dump_traceback_later(HUNG_TEST_SECONDS, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
