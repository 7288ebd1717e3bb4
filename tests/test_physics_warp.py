"""The `warp` engine (MJX's MuJoCo Warp; on this CPU-only machine, Warp's `cpu` device): parity
with `mjx` and `c` under per-env overrides, one Warp call for any nesting of vmaps with a contact
buffer sized for the whole batch, and the paper env reset and stepped on it.

Warp compiles its kernels on first use and caches them ($WARP_CACHE_PATH, default ~/.cache/warp).
On the shared 2-core CPU at nice 19: about 1.5 min with an empty cache, 5-10 s cached. Every test
here shares one engine and one compiled step (module fixtures), so that cost is paid once.

Scenario: test_physics's (B = 4 envs, 5 calls of 10 physics steps; envs 0 and 1 move the arm
freely, envs 2 and 3 push the sheet with the pad), with different masses, servo gains and
frictions in every env, and the sheet of envs 0 and 1 sliding at 0.4 m/s so that their friction
overrides change how far it slides.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_card import PaperCardConfig
from mjx_gr00t.physics import PhysicsState, make_engine
from mjx_gr00t.physics.c_engine import CEngine
from mjx_gr00t.physics.mjx_engine import MjxEngine
from test_physics import (  # noqa: F401  (model and scenario are fixtures)
    ARM, B, FREE_ENVS, PUSH_ARM_QPOS_TOL, PUSH_ARM_QVEL_TOL, PUSH_ENVS, PUSH_MIN_TRAVEL_M,
    PUSH_TRAVEL_TOL_M, _nominal_overrides, _one_call, _run, _varied_overrides, model, scenario,
)

pytest.importorskip("warp", reason="engine 'warp' needs warp-lang (pip install -e '.[test]' or '.[warp]')")

SLIDE_ENVS = FREE_ENVS
SLIDE_SPEED = 0.4  # m/s in -y: the sheet slides 18-32 mm over the 5 calls, depending on friction

# ----- tolerances (measured on this 2-core CPU, MuJoCo/MJX 3.17, warp-lang 1.19, jax 0.9.2) -----
# Envs 0 and 1 (arm moving freely, sheet sliding), every qpos and qvel entry, max over the 5 calls
# with the overrides below. Measured warp vs c: qpos 4.7e-6 (the sheet; its y travel agrees to
# 4e-8 m), qvel 1.6e-4; warp vs mjx: qpos 9.1e-7, qvel 2.1e-5 (float32 both; c steps in float64).
# ~10x headroom over warp vs c, and far below what these envs' overrides change (the sheet 5.4-9.0
# mm, the arm 0.4-1.1 mrad; qvel 0.09-0.12: test_overrides_change_each_env_far_beyond_the_tolerances),
# so a dropped override fails; so does a timestep 5% off (checked by hand: qpos 7.7e-4 apart).
SLIDE_QPOS_TOL = 5e-5
SLIDE_QVEL_TOL = 2e-3
# Envs 2 and 3 (the pad pushing the sheet) reuse test_physics's PUSH_* tolerances: the arm
# (measured warp vs c 3.5e-5 rad, 2.2e-3 rad/s; warp vs mjx 3.6e-5, 2.9e-3) and the sheet's y travel
# (6-10 mm; warp vs c 1.8 mm apart, warp vs mjx 0.09 mm), which is chaotic under the contact solve.
# The paper env on warp vs on c, same keys and actions, DR on, every observation entry over
# ENV_STEPS policy steps (3 envs). Measured 1.5e-4 (the sheet's height as it settles on the table
# after reset; joints 1.2e-7 rad, joint velocities 1.5e-5 rad/s, the sheet's corners 1.5e-8 m).
# ~10x headroom; with the overrides dropped on warp, observations are 3.2e-2 apart (checked by hand).
ENV_OBS_TOL = 2e-3
ENV_STEPS = 4


@pytest.fixture(scope="module")
def slide(model, scenario):
    """The scenario with the sheet of envs 0 and 1 sliding: qpos, qvel, ctrl (see test_physics)."""
    qpos, qvel, ctrl = scenario
    qvel = qvel.copy()
    qvel[list(SLIDE_ENVS), model.jnt_dofadr[model.joint("paper").id] + 1] = -SLIDE_SPEED
    return qpos, qvel, ctrl


@pytest.fixture(scope="module")
def overrides(model) -> dict[str, np.ndarray]:
    """test_physics's varied masses and gains, plus sliding friction x0.7 (env 0), x1.3 (env 1)."""
    ov = _varied_overrides(model)
    slip = [model.geom("paper").id, model.geom("table").id]
    ov["geom_friction"][0, slip, 0] *= 0.7
    ov["geom_friction"][1, slip, 0] *= 1.3
    return ov


@pytest.fixture(scope="module")
def warp_engine(model):
    return make_engine("warp", model)


@pytest.fixture(scope="module")
def warp_step(warp_engine):
    """jit(vmap(step)) for B envs: compiles Warp's kernels (cold: minutes) on its first call."""
    return jax.jit(jax.vmap(warp_engine.step))


@pytest.fixture(scope="module")
def c_runs(model, slide, overrides):
    """The c engine with the overrides and at the model's nominal values."""
    engine = CEngine(model)
    step = jax.jit(jax.vmap(engine.step))
    yield _run(step, *slide, overrides), _run(step, *slide, _nominal_overrides(model))
    engine.close()


@pytest.fixture(scope="module")
def warp_run(warp_step, slide, overrides):
    return _run(warp_step, *slide, overrides)


def _assert_close(got, ref, slide, label: str) -> None:
    (gq, gv), (rq, rv) = got, ref
    for b in SLIDE_ENVS:
        np.testing.assert_allclose(gq[b], rq[b], rtol=0, atol=SLIDE_QPOS_TOL, err_msg=f"{label}: env {b}")
        np.testing.assert_allclose(gv[b], rv[b], rtol=0, atol=SLIDE_QVEL_TOL, err_msg=f"{label}: env {b}")
    for b in PUSH_ENVS:
        np.testing.assert_allclose(gq[b, :, ARM], rq[b, :, ARM], rtol=0, atol=PUSH_ARM_QPOS_TOL,
                                   err_msg=f"{label}: env {b}")
        np.testing.assert_allclose(gv[b, :, ARM], rv[b, :, ARM], rtol=0, atol=PUSH_ARM_QVEL_TOL,
                                   err_msg=f"{label}: env {b}")
        travel = [q[b, -1, 7] - slide[0][b, 7] for q in (gq, rq)]
        assert max(travel) < -PUSH_MIN_TRAVEL_M, f"{label}: env {b}: sheet moved {travel} m in y"
        assert abs(travel[0] - travel[1]) < PUSH_TRAVEL_TOL_M, f"{label}: env {b}: travel {travel} m"
    assert np.all(np.isfinite(gq)) and np.all(np.isfinite(gv))


def test_overrides_change_each_env_far_beyond_the_tolerances(c_runs):
    """Precondition: warp ignoring an override (or stepping another timestep) would fail parity."""
    (vq, vv), (nq, nv) = c_runs
    for b in SLIDE_ENVS:
        assert np.abs(vq[b] - nq[b]).max() > 100 * SLIDE_QPOS_TOL, b  # the sheet's slide (friction)
        assert np.abs(vq[b, :, ARM] - nq[b, :, ARM]).max() > 2 * SLIDE_QPOS_TOL, b  # masses, gains
        assert np.abs(vv[b] - nv[b]).max() > 10 * SLIDE_QVEL_TOL, b


def test_warp_matches_c_with_overrides(warp_run, c_runs, slide):
    _assert_close(warp_run, c_runs[0], slide, "warp vs c")


def test_warp_matches_mjx_with_overrides(warp_run, model, slide, overrides):
    mjx_run = _run(jax.jit(jax.vmap(MjxEngine(model).step)), *slide, overrides)
    _assert_close(warp_run, mjx_run, slide, "warp vs mjx")


def test_one_warp_call_for_any_vmap_nesting(warp_engine, warp_step, slide, overrides):
    """vmap(vmap(step)) over 4 x 4 envs, and one env without vmap, equal the 4-env call. At rest
    the 16 sheets touch the table at 64 points, more than one world's 48-contact buffer: were the
    buffer not sized for the whole batch, sheets would sink into the table."""
    qpos, qvel, ctrl = slide
    four = _one_call(warp_step, slide, overrides)

    def tiled(x: np.ndarray) -> jax.Array:  # (B, ...) -> (4, B, ...): the 4 envs four times
        return jnp.asarray(np.stack([x] * 4))

    nested = jax.jit(jax.vmap(jax.vmap(warp_engine.step)))(
        PhysicsState(tiled(qpos), tiled(qvel)), tiled(ctrl[:, 0]), {k: tiled(v) for k, v in overrides.items()})
    np.testing.assert_array_equal(np.asarray(nested.qpos), np.stack([four[0]] * 4))
    np.testing.assert_array_equal(np.asarray(nested.qvel), np.stack([four[1]] * 4))

    single = jax.jit(warp_engine.step)(PhysicsState(jnp.asarray(qpos[0]), jnp.asarray(qvel[0])),
                                       jnp.asarray(ctrl[0, 0]), {k: jnp.asarray(v[0]) for k, v in overrides.items()})
    np.testing.assert_array_equal(np.asarray(single.qpos), four[0][0])
    np.testing.assert_array_equal(np.asarray(single.qvel), four[1][0])


def test_unknown_override_field_raises(warp_engine, model):
    state = PhysicsState(jnp.zeros(model.nq, jnp.float32), jnp.zeros(model.nv, jnp.float32))
    with pytest.raises(ValueError, match="cannot override model fields \\['body_pos'\\]"):
        warp_engine.step(state, jnp.zeros((1, model.nu), jnp.float32), {"body_pos": jnp.asarray(model.body_pos)})


def _env_rollout(engine: str, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The paper env on `engine`: obs (ENV_STEPS + 1, n, 34) from reset over random actions, and
    the per-env overrides that reset drew (DR on)."""
    env = registry.make("paper_card", dataclasses.replace(PaperCardConfig(), num_envs=n, engine=engine))
    state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), n))
    actions = jax.random.uniform(jax.random.PRNGKey(1), (ENV_STEPS, n, env.action_size), minval=-1.0, maxval=1.0)
    step = jax.jit(jax.vmap(env.step))
    obs = [np.asarray(state.obs)]
    overrides = {k: np.asarray(v) for k, v in state.info.overrides.items()}
    for a in actions:
        state = step(state, a)
        obs.append(np.asarray(state.obs))
    return np.stack(obs), overrides


def test_paper_env_resets_and_steps_on_warp_like_on_c(warp_step):  # warp_step: kernels compiled
    warp_obs, warp_ov = _env_rollout("warp", 3)
    c_obs, c_ov = _env_rollout("c", 3)
    for name, value in warp_ov.items():  # DR on: every env draws its own overrides
        np.testing.assert_array_equal(value, c_ov[name])
        assert not np.array_equal(value[0], value[1]), name
    np.testing.assert_array_equal(warp_obs[0], c_obs[0])  # reset: no physics yet
    np.testing.assert_allclose(warp_obs, c_obs, rtol=0, atol=ENV_OBS_TOL)
    assert np.abs(warp_obs[-1, :, :6] - warp_obs[0, :, :6]).max() > 10 * ENV_OBS_TOL  # the arms moved


def test_warp_engine_disables_nothing_it_should_warn_about(warp_engine):
    """Iteration-limit prints are off (every step of a 4-iteration scene hits it); overflow
    warnings (lost contacts or constraints) stay on."""
    from mujoco.mjx.third_party.mujoco_warp._src.types import OverflowType

    flags = OverflowType(warp_engine.model.opt._impl.warn_overflow)
    assert not flags & (OverflowType.ITERATIONS | OverflowType.LS_ITERATIONS)
    assert flags & OverflowType.NARROWPHASE and flags & OverflowType.NEFC


def test_non_finite_env_is_isolated(warp_step, slide, overrides):
    """A NaN env comes back non-finite (for the env's NaN guard) and leaves the others alone."""
    qpos, qvel, ctrl = slide
    bad = 2
    v = qvel.copy()
    v[bad, 1] = np.nan
    out = _one_call(warp_step, (qpos, v, ctrl), overrides)
    clean = _one_call(warp_step, slide, overrides)
    assert not np.all(np.isfinite(out[0][bad]))
    others = [i for i in range(B) if i != bad]
    np.testing.assert_array_equal(out[0][others], clean[0][others])
    np.testing.assert_array_equal(out[1][others], clean[1][others])
