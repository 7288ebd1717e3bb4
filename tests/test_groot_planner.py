"""bridge.groot.planner: GR00T chunks (a tiny checkpoint from bridge.tiny) as the residual's base.

(1) the base action in the observation is the GR00T chunk element converted to a normalised delta,
    step by step across chunk boundaries and an auto-reset, against GrootBase.plan called directly;
(2) one host call per step serves the whole batch, GR00T runs only at chunk boundaries, the PPO
    iteration stays one jitted call that compiles once, and `with_groot_metrics` adds the timings;
(3) `export_record`: what residual.json keeps of the base; (4) clear errors for a bad checkpoint.
The trainers end to end: tests/test_groot_training.py.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import hashlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bridge.groot.planner import (
    GrootChunkPlanner, call_seed, export_record, planner_factory, planner_of, with_groot_metrics,
)
from bridge.groot.policy import GrootBase
from mjx_gr00t import residual_env
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.errors import UsageError
from mjx_gr00t.groot_settings import GrootSettings
from mjx_gr00t.render import BatchRenderer
from bridge.groot.frames import to_groot_size
from mjx_gr00t.residual import ResidualEpisodeEnv
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.ppo_config import PPOConfig

B = 2
N_STEPS = 3  # chunk steps executed per plan in (1) and (2)
EPISODE = 7  # policy steps per episode in (1) and (2): the reset falls mid-chunk
ACT_SCALE = 0.5  # rad: GR00T's targets stay mostly within one step, so few deltas clip
OBS_ATOL = 1e-5


def _env(tiny_dir: str, n_action_steps: int = N_STEPS) -> ResidualEpisodeEnv:
    settings = GrootSettings(model=tiny_dir, n_action_steps=n_action_steps, max_batch=64)
    extra = (("episode_length", EPISODE), ("act_scale", ACT_SCALE))
    config = residual_env.scene_config("paper_square", B, "c", True, extra)
    return residual_env.build_residual_env("paper_square", config, "groot", 0.001,
                                           groot_planner=planner_factory(settings))


# ----- (1) the observation's base action is GR00T's chunk, converted ----------------------------------
def test_obs_base_action_is_the_converted_groot_chunk(tiny_dir: str) -> None:
    env = _env(tiny_dir)
    assert isinstance(env, ResidualEpisodeEnv)
    reference = GrootBase.from_pretrained(GrootSettings(model=tiny_dir, n_action_steps=N_STEPS))
    renderer = BatchRenderer(env.task.task.mj_model, cameras=("front", "wrist"), height=240, width=320,
                             antialias=False)  # as the planner draws
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
            draws = np.asarray(state.info.task.image_dr)[rows]  # each env's cameras and lights
            images = {k: to_groot_size(v) for k, v in renderer.render(qpos[rows], draws).items()}  # as on the rig
            seeds = np.asarray(state.info.base.seed)[rows]
            new = reference.plan(images["front"], images["wrist"], qpos[rows, :6],
                                 seed=call_seed(seeds)).numpy()
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
    config = PPOConfig(num_envs=B, unroll_length=EPISODE, num_minibatches=2, update_epochs=1,
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
    assert planner_of(env) is planner and isinstance(planner, GrootChunkPlanner)
    _, metrics = with_groot_metrics(train_step, env, config.batch_size)(state)
    assert metrics["groot/queries"] >= 1 and metrics["groot/inference_time"] > 0  # this iteration's stats
    bare = EpisodeEnv(env.task.task, EPISODE)
    assert planner_of(bare) is None and with_groot_metrics(train_step, bare, 1) is train_step  # unchanged


# ----- (3) what an export records about the base -------------------------------------------------------
def test_export_record(tiny_dir: str) -> None:
    record = export_record(GrootSettings(model=tiny_dir, key_map="cam01_arm0", n_action_steps=6, task="Push it."))
    with open(os.path.join(tiny_dir, "experiment_cfg", "metadata.json"), "rb") as f:
        assert record.metadata_sha256 == hashlib.sha256(f.read()).hexdigest()
    assert record.model == os.path.abspath(tiny_dir) and record.key_map_name == "cam01_arm0"
    assert record.state == (("state.arm_0", 6),) and dict(record.key_map)["video.front"] == "video.image_cam_0"
    assert (record.n_action_steps, record.action_horizon, record.task, record.image_size) == (6, 16, "Push it.",
                                                                                              (224, 224))
    served = export_record(GrootSettings(server="tcp://gpu-box:5555"))
    assert served.model == "served at tcp://gpu-box:5555" and served.metadata_sha256 is None


# ----- (4) clear errors -----------------------------------------------------------------------------------
def test_bad_checkpoints_are_usage_errors(tmp_path) -> None:
    with pytest.raises(UsageError, match="--groot.model .*neither a checkpoint directory nor a Hugging Face id"):
        planner_factory(GrootSettings(model=str(tmp_path / "missing")))(None)
