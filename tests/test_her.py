"""HER 'future' relabelling on a hand-built buffer: in-episode future goals, rewards, fraction, errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.envs.spec import EnvSpec, GoalSpec
from mjx_gr00t.rl import her, replay
from mjx_gr00t.rl.replay import Transition

NUM_ENVS, STEPS, CAPACITY_STEPS = 4, 23, 16
ADD = jax.jit(replay.add)
DONES_AT = (3, 9, 10, 17)  # episodes 0-3 | 4-9 | 10 | 11-17 | 18-22 (running); ring keeps 7..22
# obs = [achieved (2), desired (2), extra (1)]; achieved after step t of env e is (t + 1, e).
ACHIEVED, DESIRED = (0, 2), (2, 4)


def compute_reward(achieved: jax.Array, desired: jax.Array) -> jax.Array:
    """Sparse: 0 within 0.5, else -1; any leading dims."""
    return -(jnp.linalg.norm(achieved - desired, axis=-1) > 0.5).astype(jnp.float32)


def _spec(goal: GoalSpec | None) -> EnvSpec:
    return EnvSpec(obs_layout=(("achieved", 2), ("desired", 2), ("extra", 1)), action_names=("a", "b"),
                   action_ranges=((-1.0, 1.0),) * 2, action_scale=1.0, policy_dt=0.1, goal=goal)


class GoalTask:
    """Stands in for any env layer: only its spec matters here."""

    def __init__(self, goal: bool = True) -> None:
        self.spec = _spec(GoalSpec(ACHIEVED, DESIRED, compute_reward) if goal else None)
        self.observation_size, self.action_size = 5, 2


def _obs(achieved: jax.Array, desired: jax.Array, extra: float) -> jax.Array:
    return jnp.concatenate([achieved, desired, jnp.full((NUM_ENVS, 1), extra)], axis=-1)


def _buffer() -> replay.ReplayBuffer:
    env = jnp.arange(NUM_ENVS, dtype=jnp.float32)
    example = Transition(obs=jnp.zeros(5), action=jnp.zeros(2), reward=jnp.zeros(()), done=jnp.zeros(()),
                         truncation=jnp.zeros(()), next_obs=jnp.zeros(5))
    buf = replay.init(CAPACITY_STEPS * NUM_ENVS, example, NUM_ENVS, available_bytes=10**9)
    episode = 0
    for t in range(STEPS):
        desired = jnp.stack([jnp.full((NUM_ENVS,), 100.0 + episode), -env], axis=-1)  # per episode
        before = jnp.stack([jnp.full((NUM_ENVS,), float(t)), env], axis=-1)
        after = jnp.stack([jnp.full((NUM_ENVS,), float(t + 1)), env], axis=-1)
        done = jnp.full((NUM_ENVS,), 1.0 if t in DONES_AT else 0.0)
        tr = Transition(
            obs=_obs(before, desired, 7.0), action=jnp.zeros((NUM_ENVS, 2)),
            reward=compute_reward(after, desired) - 0.25,  # an extra reward term, to see it replaced
            done=done, truncation=jnp.zeros(NUM_ENVS), next_obs=_obs(after, desired, 8.0),
        )
        buf = ADD(buf, tr, done)
        episode += int(t in DONES_AT)
    return buf


Sampled = tuple[replay.ReplayBuffer, replay.SampleIndex, Transition, her.Relabelled]
"""The buffer, the sampled index and batch, and the relabelled batch."""


@pytest.fixture(scope="module")
def relabelled() -> Sampled:
    buf = _buffer()
    goals = her.goal_spec(GoalTask())

    @jax.jit
    def run(key: jax.Array) -> tuple[replay.SampleIndex, Transition, her.Relabelled]:
        k_idx, k_her = jax.random.split(key)
        index = replay.sample_indices(buf, k_idx, 20_000)
        batch = replay.gather(buf, index)
        return index, batch, her.relabel(k_her, index, batch, buf, goals, k=4)

    return buf, *run(jax.random.PRNGKey(0))


def test_future_goal_is_later_in_the_same_episode(relabelled: Sampled) -> None:
    buf, index, batch, out = relabelled
    mask = np.asarray(out.relabelled)
    ep0 = np.asarray(buf.episode_id[index.time, index.env])
    ep1 = np.asarray(buf.episode_id[out.future_time, index.env])
    t0 = np.asarray(batch.obs[:, 0])  # the step number of the sampled transition
    goal = np.asarray(out.batch.obs[:, 2:4])
    goal_step = goal[:, 0] - 1.0  # the new goal is achieved-after-step t', i.e. (t' + 1, env)
    assert np.all(ep1 == ep0)
    assert np.all(goal_step[mask] >= t0[mask])
    assert np.all(goal[mask, 1] == np.asarray(index.env)[mask])  # same env
    last_step = np.array([3, 9, 10, 17, 22])  # each episode's last stored step
    ends = last_step[np.searchsorted(last_step, t0)]
    assert np.all(goal_step[mask] <= ends[mask])
    assert np.any(goal_step[mask] > t0[mask]) and np.any(goal_step[mask] == t0[mask])
    # The newest episode (steps 18..22) is still running: goals never come from beyond step 22.
    assert goal_step[mask].max() <= 22


def test_goal_slices_and_rewards(relabelled: Sampled) -> None:
    _, _, batch, out = relabelled
    mask = np.asarray(out.relabelled)
    new = out.batch
    np.testing.assert_array_equal(np.asarray(new.obs[:, 2:4]), np.asarray(new.next_obs[:, 2:4]))
    for name in ("obs", "next_obs"):  # achieved goal and the other entries are untouched
        keep = [0, 1, 4]
        np.testing.assert_array_equal(
            np.asarray(getattr(new, name))[:, keep], np.asarray(getattr(batch, name))[:, keep])
    np.testing.assert_array_equal(np.asarray(new.obs[~mask]), np.asarray(batch.obs[~mask]))
    expected = np.asarray(compute_reward(new.next_obs[:, 0:2], new.next_obs[:, 2:4]))
    np.testing.assert_array_equal(np.asarray(new.reward)[mask], expected[mask])
    np.testing.assert_array_equal(np.asarray(new.reward)[~mask], np.asarray(batch.reward)[~mask])
    # Goals from the same step are reached (reward 0), later ones not.
    same_step = np.asarray(new.obs[:, 2]) == np.asarray(batch.next_obs[:, 0])
    assert np.all(np.asarray(new.reward)[mask & same_step] == 0.0)
    assert np.all(np.asarray(new.reward)[mask & ~same_step] == -1.0)
    # Relabelled ends of episodes bootstrap (truncation), stored terminations stay otherwise.
    done = np.asarray(new.done) > 0.5
    assert np.all(np.asarray(new.truncation)[mask & done] == 1.0)
    assert np.all(np.asarray(new.truncation)[~mask] == 0.0)


def test_relabel_fraction(relabelled: Sampled) -> None:
    buf, index, batch, out = relabelled
    assert abs(float(np.mean(np.asarray(out.relabelled))) - 4 / 5) < 0.015
    goals = her.goal_spec(GoalTask())
    none = her.relabel(jax.random.PRNGKey(1), index, batch, buf, goals, k=0)
    assert not np.any(np.asarray(none.relabelled))
    np.testing.assert_array_equal(np.asarray(none.batch.reward), np.asarray(batch.reward))
    assert her.relabel_probability(4) == 0.8


def test_goal_and_rebase_come_from_the_spec() -> None:
    task = GoalTask()
    assert her.goal_spec(task) is task.spec.goal and her.goal_spec(task).goal_size == 2
    assert her.base_rebase(task) is None and her.base_rebase(GoalTask(goal=False)) is None


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"HER needs a goal-conditioned scene \(.*GoalTask has none"):
        her.goal_spec(GoalTask(goal=False))
    buf = _buffer()
    index = replay.sample_indices(buf, jax.random.PRNGKey(0), 4)
    with pytest.raises(ValueError, match="strategy"):
        her.relabel(jax.random.PRNGKey(0), index, replay.gather(buf, index), buf, her.goal_spec(GoalTask()),
                    strategy="final")
