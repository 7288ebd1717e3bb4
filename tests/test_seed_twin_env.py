"""The seed-style twin env (`benchmarks.seed_twin_env`, `seed_twin_base`) against our JAX residual env.

The JAX side is the env `train.residual_ppo --recipe paper_square/ik/ppo` trains (`runner.build`:
the rig's twin, robot observations, IK drag base, DR on, its alpha and penalty), on the `c` engine.
Checked: constants and DR ranges against the library's configs; the compiled scene byte for byte;
the NumPy actor observation and drag base against JAX's at random states; physics bit for bit
against the `c` engine; the servo quantiser bit for bit; the reset; whole episodes stepped from the
JAX env's states (synced every step, servo and estimator state included); free-running episodes
from the same start, draws and residuals; the estimate noise model on its own; the NaN guard; the
SB3 VecEnv; bad input.

What is compared where randomness differs: JAX draws with `jax.random`, the seed env with NumPy, so
per-episode draws (start pose, model fields, backlash, latency, estimate bias and delay) are copied
from the JAX state through `reset(options=...)`. The estimate's per-step noise and dropouts cannot
be synced, so the parity tests reset the JAX env from its default DR ranges with those three
factors switched off (`NOISE_FREE`, data in the state, no recompile); `test_estimate_noise_model`
checks the NumPy noise model's statistics instead. The SB3 observation is the actor's (31 entries)
plus the base action: the JAX env's critic-only entries are compared through the reward alone.
"""

import dataclasses
import inspect
import math

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from benchmarks import seed_twin_base, seed_twin_env
from benchmarks.seed_twin_base import TwinConfig, TwinDR
from benchmarks.seed_twin_env import SeedTwinEnv, make_seed_twin_vec
from mjx_gr00t.bases.rig_drag import RigDragConfig
from mjx_gr00t.envs import servo
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.paper_rig import ACTOR_SIZE
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig, RigDRConfig, RigDRRanges, load_model
from mjx_gr00t.physics import PhysicsState
from mjx_gr00t.residual import scale_residual
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.config import RunConfig, with_flat
from mjx_gr00t.runner.recipes import recipe_config

N = 8  # DR draws rolled out side by side
STEPS = 300  # a whole episode (the time limit)
NOISE_FREE = RigDRRanges.from_config(dataclasses.replace(
    RigDRConfig(), **{n: dataclasses.replace(getattr(RigDRConfig(), n), enabled=False)
                      for n in ("estimate_xy_noise", "estimate_yaw_noise", "estimate_dropout")}))
IK_TOL = 1e-4
"""Base action (normalised; 1 = 0.02 rad): JAX solves the DLS step in float32 from float32 FK,
NumPy in float64; rounding amplified by the solve (damping^2 = 1e-4)."""
OBS_TOL = 1e-4
"""Actor observation past the joint readings (which agree bit for bit: same float32 state, same
float32 arithmetic): FK, estimate and corners differ by float32 rounding (~1e-7); the velocities,
(reading - previous) x 30, by up to ~2e-5 (XLA fuses the quantiser's product into the difference);
measured over 5,838 synced steps: base 4.3e-5, velocities 3.6e-6, the rest 2.4e-7, reward 1.2e-7."""
REWARD_TOL = 1e-5
"""Reward: float32 (JAX) vs float64 sums of terms of size <= 10."""
CLOSED_STEPS = 100
"""Free-running policy steps most episodes stay within CLOSED_TOL of JAX (a third of the time limit).
Measured over 24 other DR draws: 16 stayed within it to their episode's end, 8 left it at steps 17
to 269 (servo quantisation absorbs most rounding); the JAX env nudged by 1e-5 per action left its
own unnudged run sooner (median step 186); the 24 outcomes agreed."""
CLOSED_TOL = 1e-3
TICK_FLIPS = 0.01
"""Most a synced step may differ in its servo command: a base action within IK_TOL moves the joint
command by ~2e-7 rad, which crosses a half-tick of the 4096-tick grid (1.5e-3 rad) now and then
(measured: 1 of 5,839 synced steps); those steps then step different physics and are counted, not
compared."""


@pytest.fixture(scope="module")
def config() -> RunConfig:
    """What `python -m train.residual_ppo --recipe paper_square/ik/ppo` trains."""
    return recipe_config("paper_square/ik/ppo")


@pytest.fixture(scope="module")
def jax_env(config: RunConfig) -> EpisodeEnv:
    return build_env(with_flat(config, {"engine": "c", "num_envs": N}))


@pytest.fixture(scope="module")
def jfns(jax_env: EpisodeEnv):
    """(reset(keys, dr_ranges), step), vmapped and jitted; DR ranges are data (one compile)."""
    return jax.jit(jax.vmap(jax_env.reset, in_axes=(0, None))), jax.jit(jax.vmap(jax_env.step))


@pytest.fixture(scope="module")
def start(jfns):
    """N noise-free episodes' first states."""
    return jfns[0](jax.random.split(jax.random.PRNGKey(11), N), NOISE_FREE)


def _options(state, i: int) -> dict:
    """Reset options that give a seed env slot i's per-episode draws and start of a batched JAX state
    (on the device or fetched with `jax.device_get`)."""
    info, p = state.info, state.info.estimate.params
    return {"qpos": np.asarray(state.physics.qpos[i]), "qvel": np.asarray(state.physics.qvel[i]),
            "model_fields": {k: np.asarray(v[i]) for k, v in info.overrides.items()},
            "backlash": np.asarray(info.backlash[i]), "latency": int(info.latency[i]),
            "estimate_bias": np.asarray(p.bias[i]), "estimate_std": np.asarray(p.noise_std[i]),
            "estimate_dropout": float(p.dropout[i]), "estimate_delay": int(p.delay[i])}


def _sync(env: SeedTwinEnv, state, i: int, previous_seen: np.ndarray | None) -> np.ndarray:
    """Puts a seed env in slot i of a batched JAX state (servo and estimator included)."""
    info = state.info
    return env.set_state(np.asarray(state.physics.qpos[i]), np.asarray(state.physics.qvel[i]),
                         ctrl_target=np.asarray(info.ctrl_target[i]), applied=np.asarray(info.applied[i]),
                         commands=np.asarray(info.commands[i]),
                         estimate_history=np.asarray(info.estimate.history[i]), previous_seen=previous_seen)


def _actor(jax_env: EpisodeEnv, obs: np.ndarray) -> np.ndarray:
    """[..., 64] JAX observations -> [..., 37], what the actor (and SB3) reads."""
    return np.asarray(obs)[..., list(jax_env.spec.actor_indices)]


def _assert_obs(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    np.testing.assert_array_equal(ours[..., :6], theirs[..., :6], err_msg=f"{what}: joint readings")
    np.testing.assert_allclose(ours[..., 6:ACTOR_SIZE], theirs[..., 6:ACTOR_SIZE], atol=OBS_TOL, rtol=0, err_msg=what)
    np.testing.assert_allclose(ours[..., ACTOR_SIZE:], theirs[..., ACTOR_SIZE:], atol=IK_TOL, rtol=0,
                               err_msg=f"{what}: base")


# ----- constants, ranges, scene -----
def test_config_matches_library(config: RunConfig, jax_env: EpisodeEnv) -> None:
    c, lib = TwinConfig(), PaperRigConfig()
    shared = [f.name for f in dataclasses.fields(c) if f.name in {g.name for g in dataclasses.fields(lib)}]
    assert len(shared) == 28
    for name in shared:
        if name != "dr":
            assert getattr(c, name) == getattr(lib, name), name
    assert dataclasses.asdict(c.drag) == dataclasses.asdict(RigDragConfig())
    np.testing.assert_array_equal(c.success_half, np.asarray(lib.success_half, np.float32))
    r, scene = config.residual, config.scene
    assert (c.alpha, c.residual_penalty) == (r.alpha, r.residual_penalty)
    assert r.alpha_schedule == "constant" and scene.base == "ik" and scene.dr and scene.scene == "paper_square"
    assert (lib.obs_mode, lib.perception) == ("robot", "model") and not scene.scene_options
    assert jax_env.episode_length == c.episode_length and jax_env.terminate_on_success
    defaults = inspect.signature(EpisodeEnv.__init__).parameters
    assert (c.max_abs_qpos, c.max_abs_qvel) == (defaults["max_abs_qpos"].default, defaults["max_abs_qvel"].default)
    # SB3 reads the actor's entries and the base action: 31 + 6 of the JAX env's 64.
    assert SeedTwinEnv().observation_space.shape == (len(jax_env.spec.actor_indices),) == (37,)


@pytest.mark.parametrize("ours, library", [(TwinDR(), RigDRConfig()), (TwinDR.off(), RigDRConfig.off())])
def test_dr_ranges_match_library(ours: TwinDR, library: RigDRConfig) -> None:
    ranges = RigDRRanges.from_config(library)
    names = [f.name for f in dataclasses.fields(TwinDR)]
    assert names == [f.name for f in dataclasses.fields(RigDRRanges) if f.name not in RigDRConfig.IMAGE_ONLY]
    for name in names:
        np.testing.assert_array_equal(np.asarray(getattr(ours, name), np.float32), getattr(ranges, name), err_msg=name)


def test_dr_draws_span_the_ranges_and_touch_the_same_fields(start) -> None:
    env, dr = SeedTwinEnv(), TwinDR()
    m = env.model
    nominal = {k: getattr(m, k).copy() for k in seed_twin_env.MODEL_FIELDS}
    moved = {k: np.zeros(v.shape, bool) for k, v in nominal.items()}
    a, sheet, body, x0, y0 = env._paper_adr, m.geom("paper").id, m.body("paper").id, *TwinConfig().paper_start
    draws, whole = [], []
    for seed in range(300):
        env.reset(seed=seed)
        x, y, qw, qz = env._qpos[[a, a + 1, a + 3, a + 6]]
        d = env._draws
        draws.append([x - x0, y - y0, 2 * np.arctan2(qz, qw),
                      m.geom_friction[sheet, 0] / nominal["geom_friction"][sheet, 0],
                      m.body_mass[body] / nominal["body_mass"][body],
                      *(m.actuator_gainprm[:, 0] / nominal["actuator_gainprm"][:, 0]),
                      *d["backlash"], *d["estimate_bias"], *d["estimate_std"][1:], d["estimate_dropout"]])
        whole.append([d["latency"], d["estimate_delay"]])
        for k in moved:
            moved[k] |= ~np.isclose(getattr(m, k), nominal[k], rtol=1e-6, atol=0)
    draws = np.array(draws)
    bounds = [dr.paper_xy, dr.paper_xy, dr.paper_yaw, dr.friction, dr.paper_mass, *[dr.actuator_gain] * m.nu,
              *[dr.backlash] * m.nu, dr.estimate_xy_bias, dr.estimate_xy_bias, dr.estimate_yaw_bias,
              dr.estimate_xy_noise, dr.estimate_yaw_noise, dr.estimate_dropout]
    for col, (lo, hi) in enumerate(bounds):
        assert lo - 1e-6 <= draws[:, col].min() < lo + 0.05 * (hi - lo), col
        assert hi - 0.05 * (hi - lo) < draws[:, col].max() <= hi + 1e-6, col
    for col in range(2):  # whole steps 0, 1, 2, each about a third of the time
        assert np.bincount(np.array(whole)[:, col], minlength=3).min() > 70, col
    # The same entries of the same model fields move as in our JAX env's draws, float32 as there.
    assert set(start.info.overrides) == set(seed_twin_env.MODEL_FIELDS)
    for k in seed_twin_env.MODEL_FIELDS:
        theirs = ~np.isclose(np.asarray(start.info.overrides[k]), nominal[k], rtol=1e-6, atol=0).any(axis=0)
        np.testing.assert_array_equal(moved[k], theirs, err_msg=k)
        np.testing.assert_array_equal(getattr(m, k), getattr(m, k).astype(np.float32), err_msg=k)


def test_scene_compiles_as_the_library_loads_it(jax_env: EpisodeEnv) -> None:
    ours, theirs = seed_twin_base.load_model(TwinConfig()), load_model(PaperRigConfig())
    size = mujoco.mj_sizeModel(theirs)
    assert mujoco.mj_sizeModel(ours) == size
    buffers = np.zeros((2, size), np.uint8)
    mujoco.mj_saveModel(ours, None, buffers[0])
    mujoco.mj_saveModel(theirs, None, buffers[1])
    assert np.array_equal(buffers[0], buffers[1])
    assert SeedTwinEnv().model.opt.disableflags == jax_env.task.task.engine.mj_model.opt.disableflags


# ----- observation, IK base, physics -----
def _drag_poses(steps: int = 120) -> np.ndarray:
    """(steps, 6) arm positions of a seed-env episode driven by the drag base alone: hovering,
    descending, then pressing the sheet."""
    env, poses = SeedTwinEnv(), []
    env.reset(seed=0)
    for _ in range(steps):
        env.step(np.zeros(6, np.float32))
        poses.append(env._qpos[:6].copy())
    return np.array(poses)


def test_actor_observation_and_base_match_jax_at_random_states(jax_env: EpisodeEnv, start) -> None:
    """Random states (half with random arms, half near the drag's own poses, sheets around the tool),
    commands, previous readings and estimates off the true pose: the seed env's observation
    (set_state, no estimator step) against JAX's `actor_observation` and drag base."""
    task, base = jax_env.task.task, jax_env.task.base
    template = jax.tree.map(lambda x: x[0], start)
    rng, b = np.random.default_rng(0), 512
    poses = _drag_poses()
    arm = np.concatenate([np.asarray(task.config.home_qpos) + rng.uniform(-0.5, 0.5, (b // 2, 6)),
                          poses[rng.integers(0, len(poses), b // 2)] + rng.uniform(-0.03, 0.03, (b // 2, 6))])
    tool = np.array([SeedTwinEnv().chain.pose(q[:5])[0] for q in arm])
    yaw = rng.uniform(-np.pi, np.pi, b)
    xy = tool[:, :2] + rng.uniform(-0.08, 0.08, (b, 2))
    paper = np.column_stack([xy, np.full(b, 0.00025), np.cos(yaw / 2), np.zeros(b), np.zeros(b), np.sin(yaw / 2)])
    qpos = np.concatenate([arm, paper], 1).astype(np.float32)
    qvel = rng.uniform(-0.5, 0.5, (b, 12)).astype(np.float32)
    target = (arm + rng.uniform(-0.05, 0.05, (b, 6))).astype(np.float32)
    previous = np.asarray(servo.quantise(jnp.asarray(arm + rng.uniform(-0.02, 0.02, (b, 6)), jnp.float32), 4096))
    est = np.column_stack([xy + rng.uniform(-0.01, 0.01, (b, 2)), rng.uniform(-np.pi / 2, np.pi / 2, b)])
    est = est.astype(np.float32)

    def observe(q: jax.Array, t: jax.Array, prev: jax.Array, e: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        actor = task.actor_observation(servo.quantise(q[:6], 4096), prev, e)
        obs = jnp.concatenate([actor, jnp.zeros(task.observation_size - ACTOR_SIZE)])
        s = template.replace(obs=obs, info=template.info.replace(ctrl_target=t))
        return actor, base(s), base.tool_target(s)

    j_actor, j_base, j_goal = map(np.asarray, jax.jit(jax.vmap(observe))(qpos, target, previous, est))
    env = SeedTwinEnv()
    env.reset(seed=0, options={"estimate_delay": 0})
    obs = np.array([env.set_state(qpos[i], qvel[i], target[i], estimate_history=np.tile(est[i], (5, 1)),
                                  previous_seen=previous[i]) for i in range(b)])
    _assert_obs(obs, np.concatenate([j_actor, np.clip(j_base, -1, 1)], 1), "random states")
    assert np.abs(obs[:, 6:12]).max() > 0.5 and np.abs(obs[:, ACTOR_SIZE:]).max() > 0.99  # not trivially zero
    # Every branch of the script was taken: press (drag or descend), lift where it is, hover to the grip.
    pressing = j_goal[:, 2] < 0.03
    lifting = ~pressing & (np.abs(j_goal[:, :2] - tool[:, :2]).max(axis=1) < 2e-3)
    print(f"targets: pressing {pressing.mean():.2f}, lifting {lifting.mean():.2f}")
    assert pressing.mean() > 0.1 and lifting.mean() > 0.02 and (~pressing & ~lifting).mean() > 0.1, \
        (pressing.mean(), lifting.mean())


def test_physics_is_bit_identical_to_the_c_engine(jax_env: EpisodeEnv, start) -> None:
    engine = jax_env.task.task.engine
    env, rng = SeedTwinEnv(), np.random.default_rng(1)
    for i in range(3):
        env.reset(options=_options(start, i))
        overrides = {k: v[i] for k, v in start.info.overrides.items()}
        home = np.asarray(start.info.ctrl_target[i])
        for _ in range(5):  # a few policy steps with random targets, each from the last state
            qpos, qvel = env._qpos.copy(), env._qvel.copy()
            ctrl = (home + rng.uniform(-0.2, 0.2, (6, 6))).astype(np.float32)
            physics = PhysicsState(jnp.asarray(qpos), jnp.asarray(qvel))
            theirs = engine.step(physics, jnp.repeat(ctrl, 3, axis=0), overrides)  # (18, 6): each tick 3 steps
            ours = env.simulate(ctrl)
            np.testing.assert_array_equal(ours[0], np.asarray(theirs.qpos))
            np.testing.assert_array_equal(ours[1], np.asarray(theirs.qvel))


def test_reset_matches_jax(jax_env: EpisodeEnv, start) -> None:
    """From the same draws: the servos' state bit for bit, the estimator's to rounding, the obs."""
    for i in range(N):
        env = SeedTwinEnv()
        obs, _ = env.reset(options=_options(start, i))
        info = start.info
        for ours, theirs in ((env._target, info.ctrl_target), (env._applied, info.applied),
                             (env._commands, info.commands), (env._seen, info.joints_seen)):
            np.testing.assert_array_equal(ours, np.asarray(theirs[i]))
        np.testing.assert_allclose(env._history, np.asarray(info.estimate.history[i]), atol=1e-6, rtol=0)
        _assert_obs(obs, _actor(jax_env, start.obs[i]), f"env {i}")


# ----- whole episodes -----
def test_synced_whole_episodes_match(config: RunConfig, jax_env: EpisodeEnv, jfns, start) -> None:
    """Each step starts the seed env from the JAX env's state (its own drag base, servo, estimator
    and step logic); obs, reward, success, terminated and truncated agree for whole episodes."""
    step = jfns[1]
    residuals = 0.5 * np.random.default_rng(0).standard_normal((STEPS, N, 6)).astype(np.float32)
    residuals[:, : N // 2] = 0.0  # the drag base alone in half the envs
    envs = [SeedTwinEnv() for _ in range(N)]
    for i, env in enumerate(envs):
        env.reset(options=_options(start, i))
    state, previous = start, [None] * N
    alive, endings, flips, compared = np.ones(N, bool), {"success": 0, "time limit": 0}, 0, 0
    for t in range(STEPS):
        nxt = step(state, scale_residual(jnp.asarray(residuals[t]), config.residual.alpha))
        obs, reward, done, trunc, success, commands = jax.device_get((
            _actor(jax_env, nxt.episode.final_obs), nxt.reward, nxt.done, nxt.truncation, nxt.success,
            nxt.info.commands))
        host = jax.device_get(state)
        for i in np.flatnonzero(alive):
            o = _sync(envs[i], host, i, previous[i])
            _assert_obs(o, _actor(jax_env, host.obs[i]), f"env {i} step {t}, synced")
            o, r, term, tr, info = envs[i].step(residuals[t, i])
            assert (term, tr, info["success"]) == (bool(done[i]) and not trunc[i], bool(trunc[i]), float(success[i]))
            if done[i]:
                alive[i] = False
                endings["success" if term else "time limit"] += 1
            elif not np.array_equal(envs[i]._commands, commands[i]):
                flips += 1  # a command a tick apart at a near-tie: different physics, not compared
                continue
            compared += 1
            _assert_obs(o, obs[i], f"env {i} step {t}")
            assert abs(r - reward[i]) < REWARD_TOL, (i, t, r, reward[i])
        previous = list(host.info.joints_seen)
        state = nxt
    print(f"endings {endings}; steps compared {compared}, command a tick apart {flips}")
    assert not alive.any() and min(endings.values()) >= 1, endings  # both kinds of ending were checked
    assert flips <= TICK_FLIPS * (compared + flips), flips


def test_closed_loop_parity(config: RunConfig, jax_env: EpisodeEnv, jfns, start) -> None:
    """Free-running from the same start, draws and residuals (no syncing): most episodes agree
    within CLOSED_TOL for CLOSED_STEPS steps, and the episodes' outcomes agree."""
    step = jfns[1]
    residuals = 0.3 * np.random.default_rng(1).standard_normal((STEPS, N, 6)).astype(np.float32)
    residuals[:, : N // 2] = 0.0
    envs = [SeedTwinEnv() for _ in range(N)]
    for i, env in enumerate(envs):
        env.reset(options=_options(start, i))
    state, onset, alive = start, np.full(N, STEPS), np.ones(N, bool)
    outcome = np.full((2, N), -1.0)  # success at the end, seed env and JAX
    for t in range(STEPS):
        state = step(state, scale_residual(jnp.asarray(residuals[t]), config.residual.alpha))
        obs, done, success = jax.device_get((_actor(jax_env, state.episode.final_obs), state.done, state.success))
        outcome[1] = np.where((outcome[1] < 0) & (done > 0.5), success, outcome[1])
        for i in np.flatnonzero(alive):
            o, r, term, tr, info = envs[i].step(residuals[t, i])
            if onset[i] == STEPS and (np.abs(o - obs[i]).max() > CLOSED_TOL or (term or tr) != bool(done[i])):
                onset[i] = t
            if term or tr:
                alive[i], outcome[0, i] = False, info["success"]
    print(f"first step past {CLOSED_TOL}: {onset.tolist()}; success seed env {outcome[0].tolist()}, "
          f"JAX {outcome[1].tolist()}")
    assert np.mean(onset >= CLOSED_STEPS) >= 0.75, onset
    assert np.sum(outcome[0] == outcome[1]) >= N - 1 and (outcome >= 0).all(), outcome


def test_estimate_noise_model() -> None:
    """The NumPy estimate at a still sheet: mean = pose + bias, per-step std as drawn, a dropout
    holds the last estimate at the drawn rate, the policy sees it `delay` steps late."""
    bias, std = np.array([0.002, -0.001, 0.006]), np.array([0.0015, 0.0015, 0.01])
    env = SeedTwinEnv()
    env.reset(seed=3, options={"estimate_bias": bias, "estimate_std": std, "estimate_dropout": 0.2,
                               "estimate_delay": 2})
    pos, yaw = env._paper_pose()
    seen, newest = [], []
    for _ in range(4000):
        seen.append(env._estimate())
        newest.append(env._history[0].copy())
    seen, newest = np.array(seen), np.array(newest)
    np.testing.assert_array_equal(seen[2:], newest[:-2])  # the policy sees it 2 steps late
    held = np.all(newest[1:] == newest[:-1], axis=1)
    assert 0.17 < held.mean() < 0.23, held.mean()
    measured = newest[1:][~held]
    np.testing.assert_allclose(measured.mean(0), np.array([pos[0], pos[1], yaw]) + bias, atol=4e-4, rtol=0)
    np.testing.assert_allclose(measured.std(0), std, rtol=0.08)


def test_nan_guard_matches_jax(config: RunConfig, jax_env: EpisodeEnv, jfns, start) -> None:
    """A launched sheet (|qvel| >= 100 after the step) ends the episode as truncated, reward 0,
    with the last healthy observation, in both envs."""
    qvel = start.physics.qvel.at[:, 6].set(1e3)
    bad = start.replace(physics=start.physics._replace(qvel=qvel))
    out = jfns[1](bad, jnp.zeros((N, 6)))
    env = SeedTwinEnv()
    before, _ = env.reset(options={**_options(start, 0), "qvel": np.asarray(qvel[0])})
    obs, reward, term, trunc, info = env.step(np.zeros(6, np.float32))
    assert (reward, term, trunc, info["success"]) == (0.0, False, True, 0.0)
    assert float(out.reward[0]) == 0.0 and bool(out.truncation[0]) and float(out.success[0]) == 0.0
    np.testing.assert_array_equal(obs, before)
    _assert_obs(obs, _actor(jax_env, out.episode.final_obs[0]), "final obs")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros(6, np.float32))


# ----- Gymnasium / SB3 -----
def _roll(vec, steps: int) -> tuple[np.ndarray, list[dict]]:
    obs, ends = [vec.reset()], []
    for _ in range(steps):
        o, _, dones, infos = vec.step(np.ones((vec.num_envs, 6), np.float32))
        obs.append(o)
        ends += [info for done, info in zip(dones, infos) if done]
    return np.array(obs), ends


@pytest.mark.filterwarnings("ignore:.*Box observation space (minimum|maximum) value:UserWarning")
def test_vec_env_monitor_success_and_seeding() -> None:
    from gymnasium.utils.env_checker import check_env as gymnasium_check_env
    from stable_baselines3.common.env_checker import check_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    gymnasium_check_env(SeedTwinEnv(), skip_render_check=True)  # includes reset(seed) determinism
    check_env(SeedTwinEnv())
    vec = make_seed_twin_vec(2, seed=3)
    assert isinstance(vec, DummyVecEnv) and vec.observation_space.shape == (37,)
    obs, ends = _roll(vec, STEPS + 1)  # a constant residual of 1: most episodes run to the time limit
    keys = {"episode", "success", "is_success", "terminal_observation"}
    assert obs.dtype == np.float32 and ends and all(keys <= set(e) for e in ends)
    assert all(e["episode"]["l"] <= STEPS for e in ends) and any(e["TimeLimit.truncated"] for e in ends)
    np.testing.assert_array_equal(obs[:20], _roll(make_seed_twin_vec(2, seed=3), 19)[0])
    assert not np.array_equal(obs[0], make_seed_twin_vec(2, seed=4).reset())
    norm = make_seed_twin_vec(2, seed=3, normalize=True)
    assert isinstance(norm, VecNormalize) and np.all(np.abs(norm.reset()) <= norm.clip_obs)


@pytest.mark.parametrize("call, words", [
    (lambda: make_seed_twin_vec(2, 0, vec_env="threads"), "dummy, subproc"),
    (lambda: make_seed_twin_vec(0, 0), "num_envs"),
    (lambda: SeedTwinEnv().reset(options={"qpoz": np.zeros(13)}), "valid options"),
    (lambda: SeedTwinEnv().reset(options={"qpos": np.zeros(12)}), r"shape \(13,\)"),
    (lambda: SeedTwinEnv().reset(options={"latency": 5}), r"whole number of steps in \[0, 4\]"),
    (lambda: SeedTwinEnv().reset(options={"estimate_bias": np.zeros(2)}), r"shape \(3,\)"),
    (lambda: SeedTwinEnv().reset(options={"estimate_dropout": 1.0}), "probability below 1"),
    (lambda: SeedTwinEnv().reset(options={"model_fields": {"geom_size": np.zeros(3)}}), "valid fields"),
    (lambda: SeedTwinEnv().step(np.zeros(6)), "call reset"),
    (lambda: (e := SeedTwinEnv(), e.reset(seed=0), e.step(np.zeros(5))), "6 finite numbers"),
    (lambda: TwinDR(friction=(1.2, 0.8)), "low <= high"),
    (lambda: TwinDR(latency=(0.0, 5.0)), "at most 4"),
    (lambda: TwinDR(estimate_dropout=(0.0, 1.0)), "below 1"),
    (lambda: TwinConfig(control_hz=70), "divide evenly"),
])
def test_bad_input_says_what_to_fix(call, words: str) -> None:
    with pytest.raises((ValueError, RuntimeError), match=words):
        call()


def test_quantise_matches_jax_bit_for_bit() -> None:
    """The NumPy quantiser agrees with JAX's bit for bit, at ties and next to them too."""
    tick = 2 * math.pi / 4096
    q = np.concatenate([np.random.default_rng(0).uniform(-3, 3, 20000),
                        (np.arange(-1000, 1000) + 0.5) * tick]).astype(np.float32)
    q = np.concatenate([q, np.nextafter(q, np.float32(9)), np.nextafter(q, np.float32(-9))])
    theirs = np.asarray(jax.jit(lambda x: servo.quantise(x, 4096))(q))
    np.testing.assert_array_equal(seed_twin_base.quantise(q, 4096), theirs)
