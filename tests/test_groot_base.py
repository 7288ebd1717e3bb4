"""`--base groot`: GR00T chunks (a tiny checkpoint from bridge.tiny) as the residual's base.

(1) the base action in the observation is the GR00T chunk element converted to a normalised delta,
    step by step across chunk boundaries and an auto-reset, against GrootBase.plan called directly;
(2) one host call per step serves the whole batch, GR00T runs only at chunk boundaries, and the
    PPO iteration stays one jitted call that compiles once;
(3) `train.residual_ppo --base groot` runs, resumes bitwise exactly, and evaluates and exports;
(4) clear errors for bad input.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses
import os
import shutil
import sys
from typing import get_args

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bridge.groot import DATA_CONFIGS, KEY_MAPS, GrootBase
from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.export_groot import read_groot_export
from mjx_gr00t.render import BatchRenderer
from mjx_gr00t.residual import ResidualEpisodeEnv
from mjx_gr00t.rl import ppo
from train import evaluate as evaluate_cli
from train import export as export_cli
from train import groot_base, residual_ppo, residual_sac, run_dir
from train.metrics_log import read_metrics
from train.residual_env import build_residual_env

B = 2
N_STEPS = 3  # chunk steps executed per plan in (1) and (2)
EPISODE = 7  # policy steps per episode in (1) and (2): the reset falls mid-chunk
ACT_SCALE = 0.5  # rad: GR00T's targets stay mostly within one step, so few deltas clip
OBS_ATOL = 1e-5


def _env(tiny_dir: str, n_action_steps: int = N_STEPS) -> ResidualEpisodeEnv:
    spec = groot_base.GrootSpec(model=tiny_dir, n_action_steps=n_action_steps, max_batch=64)
    extra = (("episode_length", EPISODE), ("act_scale", ACT_SCALE))
    return build_residual_env("paper_square", "groot", "c", B, True, 0.001, extra, groot=spec)


# ----- (1) the observation's base action is GR00T's chunk, converted ----------------------------------
def test_obs_base_action_is_the_converted_groot_chunk(tiny_dir: str) -> None:
    env = _env(tiny_dir)
    assert isinstance(env, ResidualEpisodeEnv)
    reference = GrootBase.from_pretrained(tiny_dir, n_action_steps=N_STEPS)
    renderer = BatchRenderer(env.task.task.mj_model, cameras=("front", "wrist"))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(3), B))
    step = jax.jit(jax.vmap(env.step))
    chunk, index = None, np.zeros(B, int)
    done = np.ones(B, bool)  # the reset plans every env
    plans, resets, unclipped = 0, 0, 0
    for t in range(EPISODE + 4):  # plans at steps 0, 3, 6, 7 (auto-reset, mid-chunk) and 10
        need = done | (index + 1 >= N_STEPS) if t else done
        index = np.where(need, 0, index + 1)
        qpos = np.asarray(state.physics.qpos)
        if need.any():
            plans += 1
            rows = np.flatnonzero(need)
            images = renderer.render(qpos[rows])
            seeds = np.asarray(state.info.base.seed)[rows]
            new = reference.plan(images["front"], images["wrist"], qpos[rows, :6],
                                 seed=groot_base.call_seed(seeds)).numpy()
            chunk = np.zeros((B, *new.shape[1:]), np.float32) if chunk is None else chunk
            chunk[rows] = new
        np.testing.assert_array_equal(np.asarray(state.info.base.chunk), chunk)
        target = chunk[np.arange(B), index]  # (B, 6) absolute joint targets, rad
        ctrl = np.asarray(state.info.task.ctrl_target)
        want = np.clip((target - ctrl) / ACT_SCALE, -1.0, 1.0)
        np.testing.assert_allclose(np.asarray(state.obs[:, -6:]), want, atol=OBS_ATOL, err_msg=f"step {t}")
        unclipped += int(np.sum(np.abs(want) < 0.99))
        state = step(state, jnp.zeros((B, 6)))
        done = np.asarray(state.done) > 0.5
        resets += int(done.any())
    renderer.close()
    assert resets == 1 and plans == 5, (resets, plans)
    assert unclipped > 20, "too few unsaturated deltas to test the conversion"


# ----- (2) one host call per step for the whole batch; GR00T only at boundaries; one compile ---------
@pytest.mark.slow
def test_one_host_call_per_step_and_groot_only_at_boundaries(tiny_dir: str) -> None:
    env = _env(tiny_dir, n_action_steps=4)  # its own env (and counters): 4 != N_STEPS
    base, planner = env.task.base, env.task.base.planner
    config = ppo.PPOConfig(num_envs=B, unroll_length=EPISODE, num_minibatches=2, update_epochs=1,
                           policy_hidden=(8,), value_hidden=(8,))
    state = ppo.init(config, env, jax.random.PRNGKey(0))
    train_step = ppo.make_train_step(config, env)
    planner.pop_stats(1)
    calls0, queries0 = base.host_calls, planner.queries_total
    for _ in range(2):
        state, metrics = train_step(state)
    jax.block_until_ready(metrics)
    stats = planner.pop_stats(2 * config.batch_size)
    steps = 2 * EPISODE
    # One host call per env step of the whole batch, not one per env.
    assert base.host_calls - calls0 == steps
    # GR00T ran once per chunk boundary, for all envs in one query: every EPISODE (7) steps all envs
    # reset together, and 4 steps after each (re)set a chunk ends: steps 4, 7, 11, 14.
    assert planner.queries_total - queries0 == 4 and stats["groot/queries"] == 4
    assert stats["groot/planned_envs"] == 4 * B
    assert stats["groot/inference_time"] > 0 and stats["groot/inference_time_per_env_step"] > 0
    assert train_step._cache_size() == 1, "the PPO iteration recompiled"


# ----- (3) the trainer end to end, exact resume, evaluate, export ---------------------------------------
def _flags(tiny_dir: str) -> list[str]:
    # 2 envs x 4 steps = 8 env steps per iteration; 2 iterations.
    return ["--base", "groot", "--groot-model", tiny_dir, "--num-envs", "2", "--unroll-length", "4",
            "--num-minibatches", "2", "--update-epochs", "1", "--hidden", "16", "--total-steps", "16",
            "--engine", "c", "--checkpoint-every", "1", "--wandb", "disabled", "--eval-episodes", "0"]


def _saved(tiny_dir: str, out) -> tuple[int, object]:
    args = residual_ppo.parse([*_flags(tiny_dir), "--out", str(out)])
    env, config = residual_ppo.build(args)
    target = ppo.init(config, env, jax.random.PRNGKey(0))
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        step = ckpt.latest_step()
        state = ckpt.restore(target)
    return step, jax.tree.map(np.asarray, (state.policy_params, state.value_params, state.normalizer,
                                           state.env_state))


@pytest.mark.slow
def test_ppo_with_groot_base_runs_resumes_exactly_and_evaluates(tiny_dir: str, tmp_path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    residual_ppo.main([*_flags(tiny_dir), "--out", str(straight)])
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
        "--scene", "paper_square", "--base", "groot", "--groot-model", tiny_dir, "--no-her", "--num-envs", "2",
        "--steps-per-iteration", "2", "--utd-ratio", "0.5", "--batch-size", "4", "--buffer-capacity", "16",
        "--warmup-steps", "4", "--hidden", "16", "--total-steps", "8", "--engine", "c", "--wandb", "disabled",
        "--eval-episodes", "0", "--out", str(out)])
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [4, 8] and (out / "summary.json").exists()
    assert records[0]["groot/queries"] >= 1 and records[0]["groot/inference_time"] > 0


# ----- (4) clear errors ----------------------------------------------------------------------------------
def test_groot_without_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(SystemExit, match="--base groot needs the GR00T torch bridge: pass --groot-model"):
        residual_ppo.main(["--base", "groot", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot-model applies to --base groot only"):
        residual_ppo.main(["--base", "ik", "--groot-model", "x", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot-n-action-steps must be in 1..16"):
        residual_ppo.main(["--base", "groot", "--groot-model", "x", "--groot-n-action-steps", "17",
                           "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot-server must be tcp://HOST:PORT"):
        residual_ppo.main(["--base", "groot", "--groot-server", "bad host:x", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot-server applies to --base groot only"):
        residual_ppo.main(["--base", "ik", "--groot-server", "tcp://h:5555", "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="--groot-timeout must be > 0"):
        residual_ppo.main(["--base", "groot", "--groot-server", "tcp://h:5555", "--groot-timeout", "0",
                           "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_groot_on_a_fetch_scene_is_a_clear_error(tiny_dir: str, tmp_path) -> None:
    with pytest.raises(SystemExit, match="GR00T cannot drive"):
        residual_sac.main(["--scene", "fetch_push", "--base", "groot", "--groot-model", tiny_dir,
                           "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_bad_checkpoints_are_clear_errors(tiny_dir: str, tmp_path, monkeypatch) -> None:
    with pytest.raises(SystemExit, match="neither a checkpoint directory nor a Hugging Face id"):
        residual_ppo.main(["--base", "groot", "--groot-model", str(tmp_path / "missing"),
                           "--out", str(tmp_path / "run")])
    real = tmp_path / "real"  # a real GR00T N1.5 checkpoint, as far as config.json says
    shutil.copytree(tiny_dir, real)
    (real / "config.json").write_text('{"model_type": "gr00t_n1_5"}')
    monkeypatch.setitem(sys.modules, "gr00t", None)  # the optional package is not installed
    with pytest.raises(SystemExit, match="pip install"):
        residual_ppo.main(["--base", "groot", "--groot-model", str(real), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_cli_choices_match_the_bridge() -> None:
    """run_dir cannot import bridge.groot (torch), so its flag choices are spelled out; keep them equal."""
    hints = {f.name: f.type for f in dataclasses.fields(run_dir.RunFlags)}
    assert set(get_args(hints["groot_data_config"])) == set(DATA_CONFIGS)
    key_maps = {a for t in get_args(hints["groot_key_map"]) for a in get_args(t)}
    assert key_maps == set(KEY_MAPS)
