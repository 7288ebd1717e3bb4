"""`python -m benchmarks.peers` at its --quick size: each part writes sane records whose ratios
agree with the measured rates; the success-window arithmetic; flags and errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import ast
import dataclasses
import importlib.util
import inspect
import json
import os
import shlex

import pytest

from benchmarks import peers, peers_sb3
from mjx_gr00t.errors import UsageError


def _run(tmp_path, *argv):
    out = tmp_path / "peers"
    results = peers.main(["--quick", "--out", str(out), *argv])
    with open(f"{out}.json") as f:
        written = json.load(f)
    assert written["parts"].keys() == results["parts"].keys()
    assert written["machine_line"] and written["machine"]["cores"] >= 1
    return written, (tmp_path / "peers.md").read_text()


def test_windowed_success() -> None:
    events = [(1.0, 2, 0), (2.0, 2, 2), (3.0, 0, 0), (4.0, 4, 4), (5.0, 1, 0)]
    # At t=2: 4 episodes, 2 successes. At t=4 the oldest two events drop out (the newest alone
    # holds 4). At t=5 the t=4 event plus the new one: 5 episodes, 4 successes.
    curve = peers_sb3.windowed_success(events, window=4)
    assert curve == [(2.0, 0.5), (4.0, 1.0), (5.0, 0.8)]
    assert peers_sb3.windowed_success(events, window=100) == []


def test_ours_curves_need_held_out_evaluations_and_one_clock() -> None:
    metrics = [{"time/wall_s": 1.0, "env_steps": 8, "rollout/episodes": 4.0, "rollout/success_rate": 0.25},
               {"time/wall_s": 2.0, "env_steps": 16, "rollout/episodes": 0.0, "rollout/success_rate": None,
                "eval/success_rate": 0.5}]
    evals, events = peers_sb3.ours_curves(metrics)
    assert evals == [(2.0, 0.5, 16)] and events == [(1.0, 4, 1), (2.0, 0, 0)]
    with pytest.raises(ValueError, match="trained in one go"):
        peers_sb3.ours_curves([*metrics, {"time/wall_s": 0.5, "env_steps": 24}])
    with pytest.raises(ValueError, match="--eval-every"):
        peers_sb3.ours_curves(metrics[:1])


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
    # The peer runs in as many processes as our C engine has threads (all cores).
    assert fetch["peer_processes"] == fetch["ours_engine_threads"] == os.cpu_count()
    for key in ("peer_env_steps_per_s", "peer_single_process_env_steps_per_s", "ours_env_steps_per_s",
                "ours_gym_adapter_env_steps_per_s"):
        assert fetch[key] > 0, key
    rate = fetch["ours_env_steps_per_s"]
    assert fetch["ratio_ours_vs_peer"] == pytest.approx(rate / fetch["peer_env_steps_per_s"])
    assert fetch["ratio_ours_vs_peer_single_process"] == pytest.approx(rate / fetch["peer_single_process_env_steps_per_s"])
    assert fetch["ratio_ours_gym_adapter_vs_peer"] == pytest.approx(
        fetch["ours_gym_adapter_env_steps_per_s"] / fetch["peer_env_steps_per_s"])
    # Each scene's raw mj_step on its own model: ours has no arm and no mocap, the peer both.
    ours, peer = fetch["ours_mj_step"], fetch["peer_mj_step"]
    assert ours["nmocap"] == 0 and peer["nmocap"] == 1 and peer["nv"] > ours["nv"]
    assert ours["physics_steps_per_env_step"] == peer["physics_steps_per_env_step"] == 20
    assert ours["us_per_physics_step"] > 0 and peer["us_per_physics_step"] > 0
    cost = peer["us_per_physics_step"] / ours["us_per_physics_step"]
    assert fetch["physics_cost_ratio_peer_vs_ours"] == pytest.approx(cost)
    assert fetch["ratio_ours_vs_peer_per_physics_cost"] == pytest.approx(fetch["ratio_ours_vs_peer"] / cost)
    assert "no arm" in table and "mocap weld" in table and "1 process" in table
    assert f"{fetch['ratio_ours_vs_peer']:.1f}x" in table and f"{cost:.1f}x" in table


@pytest.fixture
def one_evaluator_per_task(monkeypatch) -> None:
    """benchmarks.heldout.HeldOutEvaluator made once per (task, episodes, seed) in the test: the
    part, its reanalysis and its rerun from the run dir score on the same episodes, so their
    rollout compiles once (each new evaluator would compile its own)."""
    from benchmarks import heldout

    made: dict[tuple[str, int, int], heldout.HeldOutEvaluator] = {}
    real = heldout.HeldOutEvaluator

    def shared(task: dict, episodes: int, seed: int) -> heldout.HeldOutEvaluator:
        key = (json.dumps(task, sort_keys=True), episodes, seed)
        if key not in made:
            made[key] = real(task, episodes=episodes, seed=seed)
        return made[key]

    monkeypatch.setattr(heldout, "HeldOutEvaluator", shared)


@pytest.mark.slow
def test_sb3_part(tmp_path, one_evaluator_per_task) -> None:
    """Seed-style SB3 (plain and VecNormalize) for ~512 steps and our PPO for 512, scored by one
    held-out evaluator; then the same from the run directory, and the run dirs it must refuse."""
    written, table = _run(tmp_path, "--parts", "sb3", "--ours-out", str(tmp_path / "ours"))
    sb3 = written["parts"]["sb3"]
    assert sb3["task"] == {"scene": "paper_card", "base": "ik", "engine": "auto", "num_envs": 16, "dr": True,
                           "residual_penalty": 0.001, "alpha": 1.0}
    assert sb3["heldout_episodes"] == peers.QUICK.eval_episodes
    ours = sb3["ours"]
    assert ours["env_steps"] == peers.QUICK.ours_total_steps and ours["made_here"]
    assert [p[2] for p in ours["heldout_curve"]] == [0, 256, 512]   # the start, then every 2 iterations of 128
    assert 0.0 <= sb3["seed_env_overhead"]["overhead_fraction"] < 1.0
    assert [r["name"] for r in sb3["sb3"]] == ["seed-style SB3 PPO", "seed-style SB3 PPO + VecNormalize"]
    for run, cmp in zip(sb3["sb3"], sb3["comparisons"]):
        assert run["env_steps"] >= peers.QUICK.sb3_max_steps and run["env_steps_per_s"] > 0
        hp = run["hyperparameters"]
        assert (hp["n_steps"], hp["batch_size"], hp["learning_rate"], hp["n_epochs"]) == (64, 64, 3e-4, 10)
        assert hp["log_std_init"] == 0.0 and hp["vec_env"] == "dummy"
        assert len(run["heldout_curve"]) >= 1 and run["final_success"] == run["heldout_curve"][-1][1]
        # The target: the low end of the 95 % interval of SB3's last evaluations pooled.
        last = [p[1] for p in run["heldout_curve"][-3:]]
        assert cmp["final_success"] == pytest.approx(sum(last) / len(last))
        assert cmp["target_success"] == cmp["target"] == pytest.approx(cmp["final_success_ci95"][0])
        assert cmp["target"] <= cmp["final_success"]
        assert cmp["start_success (base alone, same episodes)"] == ours["heldout_curve"][0][1]
        peer_t, ours_t = cmp["peer_time_to_target"], cmp["ours_time_to_target"]
        for side, wall in ((peer_t, run["wall_s"]), (ours_t, ours["wall_s"])):
            for key in ("held_s", "held_3_evals_s"):
                assert side[key] is None or 0.0 <= side[key] <= wall + 1e-9
        head = cmp["ratio_held_3_evals (headline)"]
        if not ours_t["held_3_evals_s"] or peer_t["held_3_evals_s"] is None:   # None, or held from t = 0
            assert head is None
        else:
            assert head == pytest.approx(peer_t["held_3_evals_s"] / ours_t["held_3_evals_s"])
        assert cmp["env_steps_per_s_ratio"] == pytest.approx(ours["env_steps_per_s"] / run["env_steps_per_s"])
    assert "**held for 3 evaluations**" in table and "first crossing (not held" in table
    # Reanalysed from the JSON alone, the comparisons come out the same, and the rerun is recorded.
    redone = peers.main(["--reanalyse", str(tmp_path / "peers.json")])
    assert redone["parts"]["sb3"]["comparisons"] == sb3["comparisons"] and len(redone["reanalysed"]) == 1
    # The same comparison again from the run directory just made (--ours), without retraining ours
    # (SB3 here for one rollout of 16 steps x 4 envs: only our side is checked).
    again, _ = _run(tmp_path, "--parts", "sb3", "--ours", str(tmp_path / "ours"), "--sb3-configs", "plain",
                    "--sb3-max-steps", "64", "--sb3-n-steps", "16")
    assert again["parts"]["sb3"]["ours"]["made_here"] is False
    assert again["parts"]["sb3"]["ours"]["heldout_curve"] == ours["heldout_curve"]


@pytest.mark.slow
def test_sb3_part_on_the_twin(tmp_path, one_evaluator_per_task) -> None:
    """On paper_square SB3 trains on the seed-style twin env and is scored reading the actor's entries
    of our observation; our own times to 85 % and 95 % are recorded and tabled."""
    written, table = _run(tmp_path, "--parts", "sb3", "--scene", "paper_square", "--sb3-configs", "plain",
                          "--ours-out", str(tmp_path / "ours"))
    sb3 = written["parts"]["sb3"]
    assert sb3["task"]["scene"] == "paper_square"
    (run,), (cmp,) = sb3["sb3"], sb3["comparisons"]
    assert run["env_steps"] >= peers.QUICK.sb3_max_steps and len(run["heldout_curve"]) >= 1
    assert cmp["target"] <= cmp["final_success"]
    fixed = sb3["ours"]["time_to_fixed_targets"]
    assert set(fixed) == {"0.85", "0.95"} and all("held_3_evals_s" in t for t in fixed.values())
    assert "our wall time to 85% held-out success" in table and "our wall time to 95%" in table


def test_sb3_part_refuses_resumed_runs_and_runs_without_metrics(tmp_path) -> None:
    from mjx_gr00t.runner import cli, run_dir

    out = tmp_path / "ours"
    # The task and PPO settings of the sb3 part's --quick run (test_sb3_part), without --eval-every:
    # in the same process its compiled PPO step is reused. One iteration, then one more resumed.
    q = peers.QUICK
    flags = ["--scene", "paper_card", "--base", q.base, "--dr", "--engine", q.engine, "--num-envs",
             str(q.ours_num_envs), "--total-steps", str(q.ours_total_steps), *shlex.split(q.ours_flags),
             "--wandb", "disabled", "--eval-episodes", "0", "--out", str(out)]
    cli.main("ppo", [*flags, "--stop-after", "1"])
    with pytest.raises(UsageError, match="no held-out evaluations.*--eval-every"):
        peers.main(["--quick", "--parts", "sb3", "--ours", str(out), "--out", str(tmp_path / "x")])
    cli.main("ppo", ["--resume", str(out), "--eval-episodes", "0", "--stop-after", "1"])
    with pytest.raises(UsageError, match="was resumed .*trained in one go"):
        peers.main(["--quick", "--parts", "sb3", "--ours", str(out), "--out", str(tmp_path / "x")])
    empty = tmp_path / "empty"
    run_dir.prepare_out(str(empty), "ppo", run_dir.read_run(str(out))["config"], resume=False, overwrite=False)
    with pytest.raises(UsageError, match="holds no iterations"):
        peers.main(["--quick", "--parts", "sb3", "--ours", str(empty), "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x.json").exists()


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
