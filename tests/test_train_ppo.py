"""`python -m train.residual_ppo` end to end on a tiny config: outputs, exact resume, Ctrl-C, bad input,
and `train.evaluate` / `train.export` on the run it leaves."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from mjx_gr00t.checkpoint import Checkpointer
from train import evaluate as evaluate_cli
from train import export as export_cli
from train import residual_ppo
from bridge.groot import planner
from mjx_gr00t.rl import algos
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.metrics_log import read_metrics
from mjx_gr00t.runner.recipes import resolve

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 4 envs x 4 steps = 16 env steps per iteration; 4 iterations in all.
TINY = [
    "--num-envs", "4", "--unroll-length", "4", "--num-minibatches", "2", "--update-epochs", "1",
    "--policy-hidden", "16", "16", "--value-hidden", "16", "16", "--total-steps", "64", "--engine", "c", "--checkpoint-every", "1",
    "--wandb", "disabled",
]


def _run(out, *extra):
    return residual_ppo.main([*TINY, "--out", str(out), *extra])


def _saved_state(out):
    """The latest checkpoint's policy params and env-step count, as numpy."""
    config = resolve(cli.parse("ppo", [*TINY, "--out", str(out)]), "ppo")
    env = build_env(config, groot=planner)  # the env object (and compiled init) the CLI trained with
    target = algos.get("ppo").init(config.algo, env, jax.random.PRNGKey(0))
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        step = ckpt.latest_step()
        state = ckpt.restore(target)
    return step, jax.tree.map(np.asarray, (state.policy_params, state.value_params, state.normalizer)), int(state.env_steps)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A complete tiny run with evaluation, export and offline wandb."""
    out = tmp_path_factory.mktemp("runs") / "full"
    summary = _run(out, "--eval-episodes", "8", "--wandb", "offline")
    return out, summary


def test_full_run_writes_every_output(full_run):
    out, summary = full_run
    for name in ("run.json", "metrics.jsonl", "summary.json", "learning_curve.png",
                 "export/residual.safetensors", "export/residual.json"):
        assert (out / name).exists(), name
    assert any((out / "wandb").iterdir()), "wandb wrote nothing offline"
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [16, 32, 48, 64]
    for key in ("rollout/ep_rew_mean", "residual/success_rate", "residual/penalty", "task/dist_to_goal",
                "residual/alpha", "rollout/nan_resets", "time/env_steps_per_s"):
        assert key in records[-1], key
    saved = json.loads((out / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    for policy in ("base", "residual"):
        for key in ("success_rate", "success_ci95", "mean_return", "mean_final_distance"):
            assert key in saved[policy], (policy, key)
        lo, hi = saved[policy]["success_ci95"]
        assert 0.0 <= lo <= saved[policy]["success_rate"] <= hi <= 1.0
    assert saved["scene"] == "paper_square" and saved["episodes"] == 8
    assert saved["env_steps"] == 64 and saved["env_steps_per_s"] > 0 and saved["wall_time_s"] > 0
    assert "cores" in saved["machine"]


def test_evaluate_cli_reproduces_the_summary(full_run, tmp_path):
    out, summary = full_run
    path = tmp_path / "eval.json"
    record = evaluate_cli.evaluate(evaluate_cli.Args(run=str(out), episodes=8, json=str(path)))
    assert json.loads(path.read_text()) == json.loads(json.dumps(record))
    # Same held-out seed and episodes as the end-of-run evaluation: the same numbers.
    for policy in ("base", "residual"):
        assert record[policy] == summary[policy]


def test_evaluate_compares_plain_rl(full_run, tmp_path):
    out, _ = full_run
    plain = tmp_path / "plain"
    _run(plain, "--base", "zero", "--eval-episodes", "0")
    # 8 episodes, as the end-of-run evaluation: the trained run's rollout is already compiled.
    record = evaluate_cli.evaluate(evaluate_cli.Args(run=str(out), episodes=8, plain_rl=str(plain)))
    assert set(record["plain_rl"]) >= {"success_rate", "success_ci95", "mean_return", "mean_final_distance"}
    with pytest.raises(SystemExit, match="must be a --base zero run"):
        evaluate_cli.evaluate(evaluate_cli.Args(run=str(out), episodes=8, plain_rl=str(out)))


def test_evaluate_with_the_camera_in_the_loop(full_run, capsys):
    """--perception camera renders the top camera and runs the estimator every step (one episode:
    300 frames), with a progress bar in frames, and reports it beside the noise model's row."""
    out, _ = full_run
    try:
        record = evaluate_cli.evaluate(evaluate_cli.Args(run=str(out), episodes=1, perception="camera"))
    except SystemExit as e:
        if "OSMesa" in str(e):
            pytest.skip(f"no rendering backend on this machine: {e}")
        raise
    assert record["perception"] == "camera" and record["residual_camera"]["episodes"] == 1
    printed = capsys.readouterr()
    assert "300/300" in printed.err  # the progress bar reached every frame
    assert "ik + residual, camera" in printed.out


def test_export_cli_matches_end_of_run_export(full_run, tmp_path):
    out, _ = full_run
    again = export_cli.export(export_cli.Args(run=str(out), out=str(tmp_path / "exp")))
    a = (out / "export" / "residual.safetensors").read_bytes()
    b = (tmp_path / "exp" / "residual.safetensors").read_bytes()
    assert a == b and os.path.isdir(again)


def test_resume_is_bitwise_identical_to_a_straight_run(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _run(straight, "--eval-episodes", "0")
    _run(resumed, "--eval-episodes", "0", "--stop-after", "2")
    step, _, steps = _saved_state(resumed)
    assert (step, steps) == (2, 32)
    residual_ppo.main(["--resume", str(resumed), "--eval-episodes", "0"])
    step_a, tree_a, steps_a = _saved_state(straight)
    step_b, tree_b, steps_b = _saved_state(resumed)
    assert (step_a, steps_a) == (step_b, steps_b) == (4, 64)
    jax.tree.map(np.testing.assert_array_equal, tree_a, tree_b)
    # The metrics file continues: one record per iteration, no gap and no repeat.
    records = read_metrics(str(resumed / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [16, 32, 48, 64]


def test_eval_every_logs_a_held_out_curve_off_the_clock_and_leaves_training_alone(tmp_path):
    plain, evaluated = tmp_path / "plain", tmp_path / "evaluated"
    _run(plain, "--eval-episodes", "0")
    start = time.perf_counter()
    summary = _run(evaluated, "--eval-episodes", "0", "--eval-every", "3", "--eval-every-episodes", "4")
    elapsed = time.perf_counter() - start
    jax.tree.map(np.testing.assert_array_equal, _saved_state(plain)[1], _saved_state(evaluated)[1])
    records = read_metrics(str(evaluated / "metrics.jsonl"))
    evals = [r for r in records if "eval/success_rate" in r]
    assert [r["env_steps"] for r in evals] == [0, 48, 64]   # the initial policy, every 3, the last
    assert all(0.0 <= r["eval/success_rate"] <= 1.0 and r["eval/episodes"] == 4 for r in evals)
    spent = sum(r["eval/wall_s"] for r in evals)
    assert spent > 0.5, "the first evaluation compiles its rollout: it takes time"
    # Off the clock: the logged training time plus the evaluations fit inside the command's time.
    assert records[-1]["time/wall_s"] + spent <= elapsed
    assert summary["wall_time_s"] + spent <= elapsed


def test_resume_with_different_flags_says_which(tmp_path):
    out = tmp_path / "run"
    _run(out, "--eval-episodes", "0", "--stop-after", "1")
    with pytest.raises(SystemExit, match=r"algo.learning_rate: 0.0006 -> 0.001"):
        residual_ppo.main(["--resume", str(out), "--learning-rate", "0.001"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--alpha", "-0.5"], "--alpha must be >= 0"),
        (["--total-steps", "8"], "smaller than one iteration"),
        (["--resume", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_flags_fail_clearly(tmp_path, flags, message):
    with pytest.raises(SystemExit, match=message):
        _run(tmp_path / "run", *flags)
    assert not (tmp_path / "run").exists(), "nothing is written for a rejected command"


def test_out_holding_another_run_is_refused(tmp_path):
    out = tmp_path / "run"
    _run(out, "--eval-episodes", "0", "--stop-after", "1")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(SystemExit, match="already holds a training run"):
        _run(out, "--eval-episodes", "0")
    assert sorted(p.name for p in out.iterdir()) == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match="not a training run"):
        _run(tmp_path / "other", "--overwrite")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_unwritable_out_fails_clearly(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(SystemExit, match="cannot write"):
            _run(locked / "run")
    finally:
        locked.chmod(0o700)


def test_out_under_a_file_fails_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="cannot write to --out"):
        _run(blocker / "run")


def test_evaluate_and_export_need_a_run(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        evaluate_cli.evaluate(evaluate_cli.Args(run=str(tmp_path / "missing")))
    with pytest.raises(SystemExit, match="not a training run"):
        export_cli.export(export_cli.Args(run=str(tmp_path)))


def test_groot_base_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="--base groot needs the GR00T torch bridge"):
        _run(tmp_path / "run", "--base", "groot")


def test_help_explains_every_flag(capsys, monkeypatch):
    # In-process (`python -m train.residual_ppo` itself runs in test_ctrl_c_saves_a_checkpoint).
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        residual_ppo.main(["-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--scene", "--base", "--engine", "--num-envs", "--total-steps", "--alpha", "--seed", "--out",
                 "--resume", "--wandb", "--overwrite", "--stop-after"):
        assert flag in text, flag


def test_ctrl_c_saves_a_checkpoint(tmp_path):
    from benchmarks.gpu import SMOKE_XLA_FLAGS   # faster CPU compiles: this checks Ctrl-C, not numbers

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "train.residual_ppo", *TINY, "--total-steps", "100000", "--out", str(out)]
    flags = " ".join([os.environ.get("XLA_FLAGS", ""), *SMOKE_XLA_FLAGS]).strip()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": REPO, "XLA_FLAGS": flags})
    try:
        deadline = time.time() + 300
        metrics = out / "metrics.jsonl"
        while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 3):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: saved iteration" in stderr
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        last = ckpt.latest_step()
    logged = len(read_metrics(str(out / "metrics.jsonl")))
    assert last is not None and last >= logged
