"""`EnvSpec` and `GoalSpec`: every registered scene's spec matches its env, a residual wrapper derives
its own, and bad specs fail at construction with errors that say what is wrong."""

import dataclasses

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.spec import BaseRebase, EnvSpec, GoalSpec
from mjx_gr00t.residual_env import build_residual_env, scene_config


def _reward(achieved: jax.Array, desired: jax.Array) -> jax.Array:
    return -jnp.linalg.norm(achieved - desired, axis=-1)


def _spec(**changes: object) -> EnvSpec:
    fields: dict[str, object] = dict(
        obs_layout=(("pos", 2), ("goal", 2), ("base_action", 2)), action_names=("x", "y"),
        action_ranges=((-1.0, 1.0), (0.0, 2.0)), action_scale=0.05, policy_dt=0.04,
        goal=GoalSpec(achieved=(0, 2), desired=(2, 4), compute_reward=_reward))
    return EnvSpec(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=registry.scenes())
def scene_env(request: pytest.FixtureRequest) -> tuple[str, EpisodeEnv]:
    return request.param, registry.make(request.param, scene_config(request.param, 1, "c"))


def test_every_scene_spec_matches_its_observation_and_actions(scene_env) -> None:
    name, env = scene_env
    spec = env.spec
    assert spec is env.task.spec
    obs = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs
    assert obs.shape == (spec.observation_size,) == (env.observation_size,)
    assert spec.action_size == env.action_size == len(spec.action_ranges)
    assert spec.policy_dt > 0 and spec.action_scale > 0
    assert (spec.goal is not None) == name.startswith(("fetch_", "so101_"))
    if spec.goal is not None:
        assert spec.obs_slice("achieved_goal") == slice(*spec.goal.achieved)
        assert spec.obs_slice("desired_goal") == slice(*spec.goal.desired)
        assert spec.goal.rebase is None


@pytest.mark.parametrize("base, context", [("script", 16), ("zero", None)])
def test_residual_wrapper_derives_its_spec(base: str, context: int | None) -> None:
    env = build_residual_env("fetch_push", scene_config("fetch_push", 1, "c"), base)
    spec, inner = env.spec, env.task.task.spec
    assert spec is env.task.spec
    assert spec.obs_layout == (*inner.obs_layout, ("base_action", 4)) and spec.observation_size == 35
    assert (spec.action_names, spec.action_ranges, spec.action_scale, spec.policy_dt) == (
        inner.action_names, inner.action_ranges, inner.action_scale, inner.policy_dt)
    assert spec.goal is not None and inner.goal is not None
    assert (spec.goal.achieved, spec.goal.desired) == (inner.goal.achieved, inner.goal.desired)
    assert spec.goal.compute_reward == inner.goal.compute_reward
    if context is None:
        assert spec.goal.rebase is None and env.goal_context_size == 0
    else:
        rebase = spec.goal.rebase
        assert rebase is not None and rebase.context_size == env.goal_context_size == context
        assert rebase.action_size == 4 and rebase.base_for_goal == env.task.base_for_goal


def test_paper_residual_spec_has_no_goal() -> None:
    env = build_residual_env("paper_square", scene_config("paper_square", 1, "c"), "ik")
    assert env.spec.goal is None and env.spec.obs_layout[-1] == ("base_action", 6)
    assert env.spec.obs_slice("base_action") == slice(58, 64) and env.spec.policy_hz == pytest.approx(30.0)
    # The actor reads the robot's 31 entries and the base action; the critic all 64.
    assert env.spec.actor_observation_size == 37 and env.spec.actor_layout[-1] == ("base_action", 6)


def test_spec_normalises_types_and_is_hashable() -> None:
    spec = _spec(obs_layout=[["pos", 2.0], ("goal", 2), ("base_action", 2)], action_names=["x", "y"],
                 action_scale=1)
    assert spec.obs_layout == (("pos", 2), ("goal", 2), ("base_action", 2)) and spec.action_names == ("x", "y")
    assert isinstance(spec.action_scale, float) and hash(spec) == hash(_spec(action_scale=1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.policy_dt = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("changes, message", [
    (dict(obs_layout=()), "obs_layout must be non-empty"),
    (dict(obs_layout=(("pos", 0), ("goal", 6))), "obs_layout must be non-empty"),
    (dict(obs_layout=(("pos", 2), ("pos", 4))), r"obs_layout repeats \['pos'\]"),
    (dict(action_names=()), "action_names must be non-empty"),
    (dict(action_names=("x", "x")), r"action_names repeats \['x'\]"),
    (dict(action_ranges=((-1.0, 1.0),)), "2 action_names .* but 1 action_ranges"),
    (dict(action_ranges=((-1.0, 1.0), (1.0, 1.0))), r"lo < hi; bad: \[\('y', \(1.0, 1.0\)\)\]"),
    (dict(action_scale=0.0), "action_scale must be finite and > 0"),
    (dict(policy_dt=float("nan")), "policy_dt must be finite and > 0"),
    (dict(goal=GoalSpec((4, 6), (6, 8), _reward)), r"desired goal slice \(6, 8\) is not inside the observation \[0, 6\)"),
    (dict(goal=GoalSpec((0, 2), (2, 4), _reward, BaseRebase(_reward, _reward, 3, 2)),
          obs_layout=(("pos", 2), ("goal", 2), ("extra", 2))), "layout ends with .*'extra'"),
    (dict(goal=GoalSpec((0, 2), (2, 4), _reward, BaseRebase(_reward, _reward, 3, 1))), "has 2 actions"),
])
def test_bad_specs_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _spec(**changes)


def test_bad_goal_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        GoalSpec((0, 2), (2, 5), _reward)
    with pytest.raises(ValueError, match="must satisfy 0 <= start < stop"):
        GoalSpec((2, 2), (2, 2), _reward)
    with pytest.raises(ValueError, match=r"goal slice achieved must be \(start, stop\)"):
        GoalSpec((0, 1, 2), (2, 4), _reward)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compute_reward must be callable"):
        GoalSpec((0, 2), (2, 4), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context_size >= 1"):
        BaseRebase(_reward, _reward, 0, 2)


def test_obs_slice_names_the_entries_when_missing() -> None:
    assert _spec().obs_slice("goal") == slice(2, 4)
    with pytest.raises(ValueError, match=r"no observation entry 'tool'; the layout has \['pos', 'goal', 'base_action'\]"):
        _spec().obs_slice("tool")


def test_episode_env_refuses_a_spec_that_disagrees_with_the_task() -> None:
    class Task:
        observation_size, action_size = 5, 2
        spec = _spec(goal=None)

    with pytest.raises(ValueError, match="6-entry observation and 2 actions, but the task has observation_size 5"):
        EpisodeEnv(Task(), 10)  # type: ignore[arg-type]
