"""`--base groot` through the trainers end to end, with a tiny checkpoint from bridge.tiny:
(3) `train.residual_ppo --base groot` runs, resumes bitwise exactly, and evaluates and exports; SAC
    accepts the base; over a GR00T server it trains as in-process;
(4) clear errors for bad input.
The planner itself: tests/test_groot_planner.py.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import jax
import numpy as np
import pytest

from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.export.groot import read_groot_export
from mjx_gr00t.rl import ppo
from bridge.groot import planner
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.metrics_log import read_metrics
from mjx_gr00t.runner.recipes import resolve
from train import evaluate as evaluate_cli
from train import export as export_cli
from train import residual_ppo, residual_sac

from groot_samples import serve_tiny  # noqa: E402

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def server(tiny_dir: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """(process, address) of `python -m bridge.groot.server` serving the tiny checkpoint."""
    pytest.importorskip("zmq", reason="the ZMQ transport needs pyzmq (pip install pyzmq==27.3.0)")
    with serve_tiny(tiny_dir, TOKEN) as proc_address:
        yield proc_address


# ----- (3) the trainer end to end, exact resume, evaluate, export ---------------------------------------
def _flags(tiny_dir: str) -> list[str]:
    # 2 envs x 4 steps = 8 env steps per iteration; 2 iterations.
    return ["--base", "groot", "--groot.model", tiny_dir, "--num-envs", "2", "--unroll-length", "4",
            "--num-minibatches", "2", "--update-epochs", "1", "--policy-hidden", "16", "--value-hidden", "16", "--total-steps", "16",
            "--engine", "c", "--checkpoint-every", "1", "--wandb", "disabled", "--eval-episodes", "0"]


@pytest.fixture(scope="module")
def straight(tiny_dir: str, tmp_path_factory: pytest.TempPathFactory):
    """A complete run of `_flags` (2 iterations, in-process model), shared by the module's tests."""
    out = tmp_path_factory.mktemp("groot_runs") / "straight"
    residual_ppo.main([*_flags(tiny_dir), "--out", str(out)])
    return out


def _saved(tiny_dir: str, out) -> tuple[int, object]:
    config = resolve(cli.parse("ppo", [*_flags(tiny_dir), "--out", str(out)]), "ppo")
    env = build_env(config, groot=planner)
    target = ppo.init(config.algo, env, jax.random.PRNGKey(0))
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        step = ckpt.latest_step()
        state = ckpt.restore(target)
    return step, jax.tree.map(np.asarray, (state.policy_params, state.value_params, state.normalizer,
                                           state.env_state))


@pytest.mark.slow
def test_ppo_with_groot_base_runs_resumes_exactly_and_evaluates(tiny_dir: str, straight, tmp_path) -> None:
    resumed = tmp_path / "resumed"
    assert (straight / "summary.json").exists()
    records = read_metrics(str(straight / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [8, 16]
    assert all(r["groot/inference_time_per_env_step"] > 0 for r in records)
    assert records[0]["groot/queries"] >= 1 and records[0]["groot/inference_time"] > 0

    residual_ppo.main([*_flags(tiny_dir), "--out", str(resumed), "--stop-after", "1"])
    assert _saved(tiny_dir, resumed)[0] == 1
    residual_ppo.main(["--resume", str(resumed)])
    step_a, tree_a = _saved(tiny_dir, straight)
    step_b, tree_b = _saved(tiny_dir, resumed)
    assert step_a == step_b == 2
    jax.tree.map(np.testing.assert_array_equal, tree_a, tree_b)  # chunks and keys in env_state too

    record = evaluate_cli.evaluate(evaluate_cli.Args(run=str(straight), episodes=2))
    assert record["base_name"] == "groot"
    for policy in ("base", "residual"):
        assert 0.0 <= record[policy]["success_rate"] <= 1.0 and np.isfinite(record[policy]["mean_return"])
    out = export_cli.export(export_cli.Args(run=str(straight), out=str(tmp_path / "export")))
    assert os.path.isfile(os.path.join(out, "residual.safetensors"))
    record = read_groot_export(out)  # what a deployment needs to run the same GR00T base
    assert record.model == os.path.abspath(tiny_dir)
    assert (record.n_action_steps, record.data_config) == (8, "so100_dualcam")


@pytest.mark.slow
def test_sac_accepts_the_groot_base(tiny_dir: str, tmp_path) -> None:
    out = tmp_path / "sac"
    residual_sac.main([
        "--scene", "paper_square", "--base", "groot", "--groot.model", tiny_dir, "--no-her", "--num-envs", "2",
        "--steps-per-iteration", "2", "--utd-ratio", "0.5", "--batch-size", "4", "--buffer-capacity", "16",
        "--warmup-steps", "4", "--actor-hidden", "16", "--critic-hidden", "16", "--total-steps", "8", "--engine", "c", "--wandb", "disabled",
        "--eval-episodes", "0", "--out", str(out)])
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [4, 8] and (out / "summary.json").exists()
    assert records[0]["groot/queries"] >= 1 and records[0]["groot/inference_time"] > 0


# ----- (4) clear errors ----------------------------------------------------------------------------------
def test_groot_without_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--base groot needs the GR00T torch bridge: pass --groot.model"):
        residual_ppo.main(["--base", "groot", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot.model applies to --base groot only"):
        residual_ppo.main(["--base", "ik", "--groot.model", "x", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot.n-action-steps must be in 1..16"):
        residual_ppo.main(["--base", "groot", "--groot.model", "x", "--groot.n-action-steps", "17",
                           "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot.server must be tcp://HOST:PORT"):
        residual_ppo.main(["--base", "groot", "--groot.server", "bad host:x", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot.server applies to --base groot only"):
        residual_ppo.main(["--base", "ik", "--groot.server", "tcp://h:5555", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot.timeout must be > 0"):
        residual_ppo.main(["--base", "groot", "--groot.server", "tcp://h:5555", "--groot.timeout", "0",
                           "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_groot_on_a_fetch_scene_is_a_clear_error(tiny_dir: str, tmp_path) -> None:
    with pytest.raises(SystemExit, match=r"--base groot is GR00T driving the SO-101 arm.s joint targets; scene .fetch_push. has --base script"):
        residual_sac.main(["--scene", "fetch_push", "--base", "groot", "--groot.model", tiny_dir,
                           "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_bad_checkpoints_are_clear_errors(tiny_dir: str, tmp_path, monkeypatch) -> None:
    with pytest.raises(SystemExit, match="neither a checkpoint directory nor a Hugging Face id"):
        residual_ppo.main(["--base", "groot", "--groot.model", str(tmp_path / "missing"),
                           "--out", str(tmp_path / "run")])
    real = tmp_path / "real"  # a real GR00T N1.5 checkpoint, as far as config.json says
    shutil.copytree(tiny_dir, real)
    (real / "config.json").write_text('{"model_type": "gr00t_n1_5"}')
    monkeypatch.setitem(sys.modules, "gr00t", None)  # the optional package is not installed
    with pytest.raises(SystemExit, match="pip install"):
        residual_ppo.main(["--base", "groot", "--groot.model", str(real), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_trainer_over_the_server_trains_as_in_process(server: tuple[subprocess.Popen, str], straight,
                                                      tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`train.residual_ppo --base groot --groot.server ADDR` (token from $GROOT_API_TOKEN) logs the same
    losses and returns as the same run with the model in-process (--groot.model: `straight`)."""
    from train import residual_ppo

    monkeypatch.setenv("GROOT_API_TOKEN", TOKEN)
    flags = ["--base", "groot", "--num-envs", "2", "--unroll-length", "4", "--num-minibatches", "2",
             "--update-epochs", "1", "--policy-hidden", "16", "--value-hidden", "16", "--total-steps", "16", "--engine", "c",
             "--wandb", "disabled", "--eval-episodes", "0", "--groot.timeout", "120"]
    residual_ppo.main([*flags, "--groot.server", server[1], "--out", str(tmp_path / "served")])
    local, served = (read_metrics(str(d / "metrics.jsonl")) for d in (straight, tmp_path / "served"))
    assert len(local) == len(served) == 2
    for a, b in zip(local, served):
        assert b["groot/queries"] >= 1
        for key in a:
            if not key.startswith(("time/", "groot/")):
                assert a[key] == b[key], key
