"""`python -m benchmarks.peers` at its --quick size: each part writes sane records whose ratios
agree with the measured rates; the success-window arithmetic; flags and errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import ast
import dataclasses
import importlib.util
import inspect
import json

import pytest

from benchmarks import peers, peers_sb3
from train.run_dir import UsageError


def _run(tmp_path, *argv):
    out = tmp_path / "peers"
    results = peers.main(["--quick", "--out", str(out), *argv])
    with open(f"{out}.json") as f:
        written = json.load(f)
    assert written["parts"].keys() == results["parts"].keys()
    assert written["machine_line"] and written["machine"]["cores"] >= 1
    return written, (tmp_path / "peers.md").read_text()


def test_windowed_success_and_first_reach() -> None:
    events = [(1.0, 2, 0), (2.0, 2, 2), (3.0, 0, 0), (4.0, 4, 4), (5.0, 1, 0)]
    # At t=2: 4 episodes, 2 successes. At t=4 the oldest two events drop out (the newest alone
    # holds 4). At t=5 the t=4 event plus the new one: 5 episodes, 4 successes.
    curve = peers_sb3.windowed_success(events, window=4)
    assert curve == [(2.0, 0.5), (4.0, 1.0), (5.0, 0.8)]
    assert peers_sb3.first_reach(curve, 0.8) == 4.0
    assert peers_sb3.first_reach(curve, 1.01) is None
    assert peers_sb3.windowed_success(events, window=100) == []


def test_ours_events_read_metrics_and_refuse_a_restarted_clock() -> None:
    metrics = [{"time/wall_s": 1.0, "rollout/episodes": 4.0, "rollout/success_rate": 0.25},
               {"time/wall_s": 2.0, "rollout/episodes": 0.0, "rollout/success_rate": 0.0}]
    assert peers_sb3.ours_events(metrics) == [(1.0, 4, 1), (2.0, 0, 0)]
    with pytest.raises(ValueError, match="resumed run"):
        peers_sb3.ours_events([*metrics, {"time/wall_s": 0.5, "rollout/episodes": 1.0}])


def test_raw_part(tmp_path) -> None:
    written, table = _run(tmp_path, "--parts", "raw")
    raw = written["parts"]["raw"]
    assert raw["physics_steps_per_policy_step"] == 12 and raw["num_envs"] == peers.QUICK.raw_num_envs
    for key in ("mj_step_single_thread_physics_steps_per_s", "rollout_all_cores_physics_steps_per_s",
                "ours_policy_steps_per_s"):
        assert raw[key] > 0, key
    assert raw["ours_physics_steps_per_s"] == pytest.approx(12 * raw["ours_policy_steps_per_s"])
    assert raw["ratio_ours_vs_mj_step"] == pytest.approx(
        raw["ours_physics_steps_per_s"] / raw["mj_step_single_thread_physics_steps_per_s"])
    assert raw["ratio_ours_vs_rollout"] == pytest.approx(
        raw["ours_physics_steps_per_s"] / raw["rollout_all_cores_physics_steps_per_s"])
    assert "single-thread `mj_step`" in table and f"{raw['ratio_ours_vs_rollout']:.2f}x" in table


def test_fetch_part(tmp_path) -> None:
    written, table = _run(tmp_path, "--parts", "fetch")
    fetch = written["parts"]["fetch"]
    assert fetch["peer"] == "FetchPickAndPlace-v4" and fetch["peer_gymnasium_robotics"] == "1.4.2"
    for key in ("peer_env_steps_per_s", "ours_env_steps_per_s", "ours_gym_adapter_env_steps_per_s"):
        assert fetch[key] > 0, key
    assert fetch["ratio_ours_vs_peer"] == pytest.approx(fetch["ours_env_steps_per_s"] / fetch["peer_env_steps_per_s"])
    assert fetch["ratio_ours_gym_adapter_vs_peer"] == pytest.approx(
        fetch["ours_gym_adapter_env_steps_per_s"] / fetch["peer_env_steps_per_s"])
    assert "FetchPickAndPlace-v4" in table


@pytest.mark.slow
def test_sb3_part(tmp_path) -> None:
    """SB3 on 4 subprocess envs for ~1,000 steps and our PPO for 2,560, both on the zero-base task."""
    written, table = _run(tmp_path, "--parts", "sb3", "--base", "zero", "--ours-out", str(tmp_path / "ours"))
    sb3 = written["parts"]["sb3"]
    assert sb3["task"] == {"scene": "paper_square", "base": "zero", "dr": True, "alpha": 1.0, "residual_penalty": 0.001}
    theirs, ours = sb3["sb3"], sb3["ours"]
    assert theirs["env_steps"] >= peers.QUICK.sb3_max_steps and theirs["episodes"] >= peers.QUICK.sb3_num_envs
    assert ours["env_steps"] == peers.QUICK.ours_total_steps and ours["made_here"]
    assert theirs["env_steps_per_s"] > 0 and ours["env_steps_per_s"] > 0
    assert sb3["env_steps_per_s_ratio"] == pytest.approx(ours["env_steps_per_s"] / theirs["env_steps_per_s"])
    assert sb3["target_success"] == theirs["final_success"] == theirs["curve"][-1][1]
    assert 0.0 <= sb3["target_success"] <= 1.0
    assert 0.0 < sb3["sb3_time_to_target_s"] <= theirs["wall_s"]
    if sb3["ours_time_to_target_s"] is None:
        assert sb3["time_to_success_ratio"] is None and "never reached" in sb3["note"]
    else:
        assert sb3["time_to_success_ratio"] == pytest.approx(sb3["sb3_time_to_target_s"] / sb3["ours_time_to_target_s"])
        assert max(r for _, r in ours["curve"]) >= sb3["target_success"]
    assert "wall time to SB3's final success" in table
    # The same comparison again from the run directory just made (--ours), without retraining ours.
    again, _ = _run(tmp_path, "--parts", "sb3", "--ours", str(tmp_path / "ours"), "--sb3-max-steps", "512")
    assert again["parts"]["sb3"]["ours"]["made_here"] is False
    assert again["parts"]["sb3"]["ours"]["env_steps"] == ours["env_steps"]


def test_bad_flags_say_what_to_fix(tmp_path, monkeypatch) -> None:
    with pytest.raises(UsageError, match="--parts takes a comma-separated subset of raw,fetch,sb3"):
        peers.main(["--parts", "raw,gpu", "--out", str(tmp_path / "x")])
    with pytest.raises(UsageError, match="--raw-seconds must be > 0"):
        peers.main(["--raw-seconds", "0", "--out", str(tmp_path / "x")])
    with pytest.raises(UsageError, match="--ours '/nonexistent' is not a directory"):
        peers.main(["--parts", "sb3", "--ours", "/nonexistent", "--out", str(tmp_path / "x")])
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "stable_baselines3" else real_find_spec(name, *a))
    with pytest.raises(UsageError, match=r"needs stable_baselines3.*pip install -e '\.\[peers\]'"):
        peers.main(["--parts", "sb3", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x.json").exists()


def test_every_flag_is_documented_in_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        peers.main(["-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    # Each field of Args carries a docstring (what tyro shows for -h) ...
    body = ast.parse(inspect.getsource(peers.Args)).body[0].body
    documented = {stmt.target.id for stmt, doc in zip(body, body[1:])
                  if isinstance(stmt, ast.AnnAssign) and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)}
    fields = {f.name for f in dataclasses.fields(peers.Args)}
    assert documented == fields
    # ... and every flag is in the help.
    for name in fields:
        assert f"--{name.replace('_', '-')}" in text, name
