"""The peers plot draws the recorded twin comparison, and bad input is one line."""

import os

import pytest

from benchmarks import peers_plot
from mjx_gr00t.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = os.path.join(ROOT, "benchmarks", "results", "peers_twin_cpu2.json")


def test_plots_the_recorded_comparison(tmp_path) -> None:
    out = str(tmp_path / "twin.png")
    assert peers_plot.main([REPORT, "--out", out]) == out
    assert os.path.getsize(out) > 10_000


def test_a_report_without_an_sb3_part_is_one_line(tmp_path) -> None:
    bad = tmp_path / "raw.json"
    bad.write_text('{"parts": {"raw": {}}}')
    with pytest.raises(UsageError, match="has no sb3 part"):
        peers_plot.main([str(bad)])
    with pytest.raises(UsageError, match="cannot read"):
        peers_plot.main([str(tmp_path / "missing.json")])
