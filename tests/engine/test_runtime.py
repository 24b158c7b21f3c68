"""Thread settings: one thread where idle OpenMP threads would spin on a small machine."""

from __future__ import annotations

import pytest
import torch

from ptycho_engine.core import runtime


@pytest.fixture()
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "policy", "requested", "expected"), [
    (2, "", None, 1),            # spinning OpenMP threads on 2 cores: one thread
    (2, "ACTIVE", None, 1),
    (2, "PASSIVE", None, 2),     # sleeping threads: every core
    (2, "passive", "1", 1),      # the variable always wins
    (2, "", "2", 2),
])
def test_threads_follow_the_variable_the_wait_policy_and_the_cores(
        monkeypatch, restore_threads, cores, policy, requested, expected):
    torch.set_num_threads(2)  # torch's default on a 2-core machine
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: cores)
    monkeypatch.setenv("OMP_WAIT_POLICY", policy)
    if requested is None:
        monkeypatch.delenv(runtime.THREADS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(runtime.THREADS_VARIABLE, requested)
    assert runtime.configure_threads() == expected
    assert torch.get_num_threads() == expected


def test_cpu_device_description_counts_threads_in_words(restore_threads):
    torch.set_num_threads(1)
    assert runtime.device_description("cpu") == "CPU (1 thread)"
    torch.set_num_threads(2)
    assert runtime.device_description("cpu") == "CPU (2 threads)"
