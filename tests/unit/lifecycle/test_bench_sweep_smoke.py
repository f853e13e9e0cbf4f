"""benchmarks/bench_sweep.py at a tiny size, so the benchmark cannot rot: it runs, its checks hold.

Nothing here looks at a time: the benchmark's own checks (the suspending sweep suspended every broke
customer's services in OpenStack and billing; the next sweep decided nothing new) raise on failure.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


@pytest.fixture
def bench_sweep(monkeypatch):
    # on sys.path, not loaded from a file: the fakes' child process (spawned) imports it by name
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("bench_sweep")
    yield module
    sys.modules.pop("bench_sweep", None)


def test_the_sweep_benchmark_runs_at_a_tiny_size(bench_sweep, capsys):
    # a page cap of 7 makes every list take several pages, as 500 does at 10,000 accounts
    argv = ["--accounts", "30", "--suspend", "3", "--small", "20", "--rounds", "1", "--page-cap", "7"]

    assert bench_sweep.main(argv) == 0  # not --strict: the ratios are not judged here

    out = capsys.readouterr().out
    assert "suspending sweep (the first): 3 accounts, 6 services suspended" in out
    assert "target: sweep/floor <= 1.5x ->" in out
    assert "target: memory flat" in out
