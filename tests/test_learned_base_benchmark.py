"""benchmarks.learned_base: the planner's time is summed from per-query seconds, a stage runs the
user's command (or is reused and says so), and a failing stage stops the chain naming its log."""

import json

import pytest

from benchmarks.learned_base import _planner_time, _stage


def test_planner_time_sums_per_query_seconds(tmp_path):
    rows = [{"groot/render_time": 0.5, "groot/inference_time": 0.1, "groot/queries": 4.0, "groot/planned_envs": 40.0},
            {"groot/render_time": float("nan"), "groot/inference_time": float("nan"), "groot/queries": 0.0,
             "groot/planned_envs": 0.0},
            {"groot/render_time": 1.0, "groot/inference_time": 0.2, "groot/queries": 2.0, "groot/planned_envs": 20.0}]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = _planner_time(str(path), wall_s=8.0)
    assert (t["render_s"], t["model_s"], t["planned_envs"], t["queries"]) == pytest.approx((4.0, 0.8, 60.0, 6.0))
    assert t["renders_per_s"] == pytest.approx(15.0) and t["render_share"] == pytest.approx(0.5)
    assert _planner_time(str(tmp_path / "missing.jsonl"), None)["renders_per_s"] is None


def test_a_stage_runs_or_is_reused_and_a_failure_names_its_log(tmp_path):
    ran = _stage("ok", ["json.tool", "--help"], False, str(tmp_path / "ok.log"))
    assert not ran["reused"] and ran["wall_s"] > 0 and "usage" in (tmp_path / "ok.log").read_text()
    assert _stage("again", ["json.tool"], True, str(tmp_path / "r.log")) == {
        "command": "json.tool", "wall_s": None, "reused": True}
    with pytest.raises(SystemExit, match="bad.log"):
        _stage("bad", ["json.tool", str(tmp_path / "no-such-file.json")], False, str(tmp_path / "bad.log"))


def test_absurd_sizes_are_one_line(tmp_path):
    from benchmarks.learned_base import Args, main

    with pytest.raises(SystemExit, match="--episodes must be >= 1, got 0"):
        main(Args(out=str(tmp_path / "x"), episodes=0))
    assert not (tmp_path / "x").exists()  # nothing started, nothing written
