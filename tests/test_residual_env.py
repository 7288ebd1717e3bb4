"""The residual-env builder (`mjx_gr00t.residual_env`): scene configs from choices, the env it builds,
the runner's builder (`mjx_gr00t.runner.build`) and the Gymnasium adapter building the same env,
and the library staying free of `train` and torch."""

import dataclasses
import os
import subprocess
import sys

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import pytest

from mjx_gr00t import gym as mgym
from mjx_gr00t.bases.rig_drag import RigDragBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.residual import ResidualEpisodeEnv, ResidualTask
from mjx_gr00t.residual_env import ConfigFieldError, build_residual_env, residual_episode_env, scene_config
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner import build as runner_build
from mjx_gr00t.runner.config import SceneSettings, with_flat
from mjx_gr00t.runner.recipes import default_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_scene_config_applies_choices_and_overrides() -> None:
    overrides = (("obj_range", 0.12), ("target_range", None))
    config = scene_config("fetch_push", 3, "c", dr=True, overrides=overrides)
    default = registry.default_config("fetch_push")
    assert (config.num_envs, config.engine, config.obj_range) == (3, "c", 0.12)
    assert config.target_range == default.target_range and config.dr == default.dr
    off = scene_config("fetch_push", 3, "c", dr=False, overrides=(("dr", default.dr),))
    assert off.dr == type(default.dr).off()  # dr=False wins over a 'dr' override
    start = dataclasses.replace(registry.default_config("paper_square"), episode_length=7)
    assert scene_config("paper_square", 2, "c", start=start).episode_length == 7


def test_scene_config_errors() -> None:
    with pytest.raises(ConfigFieldError, match="'obj_range' does not apply to scene 'paper_square'") as info:
        scene_config("paper_square", 1, "c", overrides=(("obj_range", 0.1),))
    assert info.value.field == "obj_range" and isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="unknown scene 'nope'"):
        scene_config("nope", 1, "c")
    with pytest.raises(ValueError, match="unknown physics engine"):
        scene_config("paper_square", 1, "steam")
    # The runner words the same errors as command-line errors.
    with pytest.raises(UsageError, match="--scene-options obj_range=...: 'obj_range' does not apply to scene 'paper_square'"):
        runner_build.scene_config(SceneSettings("paper_square", engine="c", scene_options=("obj_range=0.1",)), 1)
    with pytest.raises(UsageError, match="unknown scene 'nope'"):
        runner_build.scene_config(SceneSettings("nope", engine="c"), 1)
    with pytest.raises(UsageError, match="--base script is the Fetch-like and SO-101 goal scenes'"):
        runner_build.build_env(with_flat(default_config("ppo"), {"base": "script", "engine": "c", "num_envs": 1}))


def test_dr_factors_from_scene_options() -> None:
    """dr.FACTOR=LOW,HIGH or dr.FACTOR=off sets one DR factor; a range without physical sense, an
    unknown factor or a malformed value is one UsageError line that names it."""
    settings = SceneSettings("paper_square", engine="c", scene_options=("dr.latency=0,1", "dr.light=off"))
    dr = runner_build.scene_config(settings, 1).dr
    default = registry.default_config("paper_square").dr
    assert (dr.latency.low, dr.latency.high, dr.latency.enabled) == (0.0, 1.0, True)
    assert not dr.light.enabled and dr.friction == default.friction
    assert scene_config("paper_square", 1, "c", dr=False, overrides=(("dr.latency", (0, 1)),)).dr == type(default).off()
    for option, message in [
        ("dr.latency=-1,2", "DR factor 'latency' cannot be negative"),
        ("dr.friction=0,1.2", "DR factor 'friction' is a scale and must stay > 0"),
        ("dr.light=1.3,0.7", "inverted range"),
        ("dr.foo=0,1", r"dr.foo: no such DR factor; this scene's are \['paper_xy'"),
        ("dr.light=abc", r"dr.light=LOW,HIGH \(two numbers\) or dr.light=off, got 'abc'"),
    ]:
        with pytest.raises(UsageError, match=message):
            runner_build.scene_config(SceneSettings("paper_square", engine="c", scene_options=(option,)), 1)


def test_builds_the_residual_env_the_trainers_and_gym_step() -> None:
    config = scene_config("paper_square", 2, "c", dr=False)
    env = build_residual_env("paper_square", config, "ik", penalty=0.01)
    assert type(env) is EpisodeEnv and isinstance(env.task, ResidualTask)
    assert isinstance(env.task.base, RigDragBase) and env.task.penalty_weight == 0.01
    inner = registry.make("paper_square", config)
    assert env.episode_length == inner.episode_length
    assert env.terminate_on_success == inner.terminate_on_success
    assert env.spec.obs_layout[-1] == ("base_action", env.action_size)

    run = with_flat(default_config("ppo"), {"engine": "c", "num_envs": 2, "dr": False, "residual_penalty": 0.01})
    trainer = runner_build.build_env(run)
    assert trainer is runner_build.build_env(run)  # cached
    gym_env = mgym.build_env(mgym.GymSpec("paper_square", num_envs=2, base="ik", engine="c", dr=False,
                                          residual_penalty=0.01))
    for other in (trainer, gym_env):
        assert type(other) is type(env) and type(other.task.base) is type(env.task.base)
        assert other.task.task.config == env.task.task.config
        assert other.task.penalty_weight == env.task.penalty_weight
        assert other.episode_length == env.episode_length


def test_carry_base_gets_the_planning_episode_env() -> None:
    class Carry:
        """The smallest `CarryBase` (never called here)."""

        def init_carry(self, state, key): ...
        def advance(self, carry): ...
        def estimate(self, state, carry): ...
        def __call__(self, state, carry): ...

    inner = registry.make("paper_square", scene_config("paper_square", 1, "c"))
    assert type(residual_episode_env(inner, Carry(), 0.0)) is ResidualEpisodeEnv
    with pytest.raises(ValueError, match="penalty_weight must be >= 0"):
        residual_episode_env(inner, Carry(), -1.0)
    with pytest.raises(ValueError, match="--base groot needs the GR00T torch bridge"):
        build_residual_env("paper_square", inner.task.config, "groot")


def test_library_imports_neither_train_nor_torch() -> None:
    code = ("import sys, mjx_gr00t.gym, mjx_gr00t.residual_env, mjx_gr00t.rl.ppo, mjx_gr00t.rl.sac; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('train', 'torch')); "
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_episode_env_keeps_the_final_goal_context() -> None:
    """With a goal-conditioned base, an ended episode's final goal context (beside its final obs)
    is the context of the state it ended in, not of the fresh episode that replaced it."""
    import jax
    import numpy as np

    start = dataclasses.replace(registry.default_config("fetch_pick_place"), episode_length=3)
    env = build_residual_env("fetch_pick_place", scene_config("fetch_pick_place", 4, "c", start=start), "script")
    assert env.goal_context_size == env.spec.goal.rebase.context_size == 16
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 4))
    u = jax.numpy.full((4, 4), 0.3)
    task_step, env_step = jax.jit(jax.vmap(env.task.step)), jax.jit(jax.vmap(env.step))
    for _ in range(3):
        ended = task_step(state, u)   # the residual task's step, before any auto-reset
        state = env_step(state, u)
    np.testing.assert_array_equal(state.done, 1.0)
    final = jax.vmap(env.task.goal_context)(ended)
    np.testing.assert_array_equal(state.episode.final_context, final)
    np.testing.assert_array_equal(state.episode.final_obs, ended.obs)
    assert not np.array_equal(jax.vmap(env.task.goal_context)(state), final)  # the fresh episode's
    base_again = jax.vmap(env.task.base_for_goal)(final, ended.info.goal)
    np.testing.assert_array_equal(base_again, ended.obs[:, -4:])
    for base in ("zero",):   # a base that ignores the goal keeps nothing
        plain = build_residual_env("fetch_pick_place", scene_config("fetch_pick_place", 1, "c"), base)
        assert plain.goal_context_size == 0 and plain.spec.goal.rebase is None
        assert plain.reset(jax.random.PRNGKey(0)).episode.final_context is None
