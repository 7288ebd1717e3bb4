"""The Gymnasium adapter (`mjx_gr00t.gym`): spaces, seeding, same-step auto-reset with the final
observation in info, actions that move the arm, Gymnasium's and SB3's env checkers, bad input.

Every test shares two compiled specs (a 4-env batch and one env of the same 5-step config), since
compiling the env dominates the time here."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from mjx_gr00t import gym as mgym
from mjx_gr00t.envs.paper_card import PaperCardConfig

N, EPISODE, OBS, ACT = 4, 5, 40, 6  # 34-D task obs + the base action (6)
CONFIG = PaperCardConfig(episode_length=EPISODE)
OPTIONS = dict(base="zero", engine="c", config=CONFIG)
HOME = np.asarray(CONFIG.home_qpos, np.float32)


@pytest.fixture(scope="module")
def envs() -> mgym.JaxVectorEnv:
    return mgym.make_vec("paper_card", N, seed=0, **OPTIONS)


@pytest.fixture(scope="module")
def env() -> mgym.JaxEnv:
    return mgym.make_env("paper_card", seed=0, **OPTIONS)


def _rollout(envs: mgym.JaxVectorEnv, seed: int, actions: np.ndarray) -> list[tuple]:
    out = [envs.reset(seed=seed)[0]]
    for a in actions:
        out.append(envs.step(a))
    return out


def test_spaces_and_metadata(envs: mgym.JaxVectorEnv, env: mgym.JaxEnv) -> None:
    assert isinstance(envs, VectorEnv) and isinstance(env, gymnasium.Env)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert envs.num_envs == N
    assert envs.single_observation_space == gymnasium.spaces.Box(-np.inf, np.inf, (OBS,), np.float32)
    assert envs.single_action_space == gymnasium.spaces.Box(-1.0, 1.0, (ACT,), np.float32)
    assert envs.observation_space.shape == (N, OBS) and envs.action_space.shape == (N, ACT)
    assert env.observation_space == envs.single_observation_space
    obs, info = envs.reset(seed=1)
    assert obs.dtype == np.float32 and obs in envs.observation_space and info == {}
    obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert obs in envs.observation_space
    assert reward.shape == (N,) and reward.dtype == np.float64 and np.all(np.isfinite(reward))
    assert terminated.dtype == bool and truncated.dtype == bool and terminated.shape == (N,)
    assert info["success"].shape == (N,) and info["_success"].all()


def test_reset_and_steps_are_deterministic_by_seed(envs: mgym.JaxVectorEnv) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (2 * EPISODE + 1, N, ACT)).astype(np.float32)
    first, again, other = (_rollout(envs, s, actions) for s in (7, 7, 8))
    np.testing.assert_array_equal(first[0], again[0])
    for a, b in zip(first[1:], again[1:]):
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
    assert not np.allclose(first[0], other[0]), "another seed drew the same initial states"
    # Different slots of one reset draw different states (DR moves the sheet).
    assert len({row.tobytes() for row in first[0]}) == N
    # 64-bit seeds keep their high bits (PRNGKey alone would map 2**40 to the key of 0).
    assert not np.array_equal(mgym.seed_key(0), mgym.seed_key(2**40))
    # Unseeded resets continue the generator seeded at construction: two draws differ.
    assert not np.array_equal(envs.reset()[0], envs.reset()[0])


def test_single_env_equals_slot_zero(envs: mgym.JaxVectorEnv, env: mgym.JaxEnv) -> None:
    actions = np.random.default_rng(1).uniform(-1, 1, (3, N, ACT)).astype(np.float32)
    vec = _rollout(envs, 11, actions)
    obs, _ = env.reset(seed=11)
    np.testing.assert_allclose(obs, vec[0][0], atol=1e-6)
    for a, step in zip(actions, vec[1:]):
        obs, reward, *_ = env.step(a[0])
        np.testing.assert_allclose(obs, step[0][0], atol=1e-5)
        assert reward == pytest.approx(step[1][0], abs=1e-5)
    # A list of seeds gives slot i the env that seed i gives.
    obs_list, _ = envs.reset(seed=[5, 11, 12, 13])
    np.testing.assert_allclose(obs_list[1], vec[0][0], atol=1e-6)


def test_actions_move_the_arm(envs: mgym.JaxVectorEnv) -> None:
    still = _rollout(envs, 3, np.zeros((3, N, ACT), np.float32))
    moved = _rollout(envs, 3, np.ones((3, N, ACT), np.float32))
    # Joint positions are obs[:6]; +1 raises every joint target by act_scale (0.02 rad) a step.
    delta = moved[-1][0][:, :ACT] - still[-1][0][:, :ACT]
    assert np.all(delta[:, [0, 4, 5]] > 0.01), delta
    assert np.abs(still[-1][0][:, :ACT] - HOME).max() < 0.02


def test_same_step_autoreset_puts_the_last_obs_in_info(envs: mgym.JaxVectorEnv) -> None:
    stats = RecordEpisodeStatistics(envs)
    obs, _ = stats.reset(seed=2)
    action = np.full((N, ACT), 0.8, np.float32)
    rewards = np.zeros(N)
    for t in range(EPISODE):
        prev = obs
        obs, reward, terminated, truncated, info = stats.step(action)
        rewards += reward
        if t < EPISODE - 1:
            assert not (terminated | truncated).any() and "final_obs" not in info
    assert truncated.all() and not terminated.any()
    assert info["_final_obs"].all() and info["_final_info"].all()
    assert info["final_info"]["_success"].all()
    final = np.stack(list(info["final_obs"]))
    # The final obs continues the episode (joints moved on from the step before) ...
    assert np.abs(final[:, :ACT] - prev[:, :ACT]).max() < 0.05
    assert np.abs(final[:, :ACT] - HOME).max() > 0.05
    # ... while the returned obs starts a new one at the home pose.
    assert np.abs(obs[:, :ACT] - HOME).max() < 1e-3
    # Gymnasium's own statistics wrapper reads our SAME_STEP mode: 5-step episodes, our rewards.
    np.testing.assert_array_equal(info["episode"]["l"], EPISODE)
    np.testing.assert_allclose(info["episode"]["r"], rewards, rtol=1e-6)


def test_single_env_ends_with_its_last_obs(env: mgym.JaxEnv) -> None:
    env.reset(seed=4)
    for t in range(EPISODE):
        obs, _, terminated, truncated, info = env.step(np.full(ACT, 0.8, np.float32))
        assert truncated == (t == EPISODE - 1) and not terminated
    assert np.abs(obs[:ACT] - HOME).max() > 0.05, "a truncated step must return the episode's last obs"
    assert set(info) == {"success", "is_success"}


def test_gymnasium_and_sb3_env_checkers(env: mgym.JaxEnv) -> None:
    check_env(env, skip_render_check=True)
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(env, warn=False)


def test_registered_ids_build_through_gymnasium() -> None:
    ids = mgym.register_envs()
    assert {"mjx_gr00t/paper_square-v0", "mjx_gr00t/paper_card-v0", "mjx_gr00t/fetch_pick_place-v0"} <= set(ids)
    envs = gymnasium.make_vec("mjx_gr00t/paper_card-v0", num_envs=N,
                              vectorization_mode="vector_entry_point", **OPTIONS)
    assert isinstance(envs.unwrapped, mgym.JaxVectorEnv)
    assert envs.reset(seed=0)[0].shape == (N, OBS)


def test_bad_input_says_what_to_fix(envs: mgym.JaxVectorEnv) -> None:
    with pytest.raises(ValueError, match="unknown scene 'nope'; valid scenes: .*paper_square"):
        mgym.make_vec("nope", 2)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\]"):
        mgym.make_vec("paper_card", 2, colour="red")
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1"):
        mgym.make_vec("paper_card", 0)
    with pytest.raises(ValueError, match="unknown base"):
        mgym.make_vec("paper_card", 2, base="magic", engine="c", config=CONFIG)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(4, 6\), got \(4, 5\)"):
        envs.step(np.zeros((N, 5)))
    with pytest.raises(ValueError, match="NaN"):
        envs.step(np.full((N, ACT), np.nan))
    with pytest.raises(ValueError, match="2 seeds for 4 envs"):
        envs.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="options are not supported"):
        envs.reset(options={"reset_mask": np.ones(N, bool)})
