"""mjx_gr00t.physics: engine parity (mjx vs c vs plain MuJoCo), per-env overrides, determinism,
non-finite handling and engine selection errors, on the SO-101 paper scene.

MJX is compiled once for the whole module (`mjx_step`: vmap over B envs, ctrl (NSTEPS, nu), the
four override fields below); every MJX call here reuses that shape. The `c` engine compiles in
well under a second, so it is used everywhere else.

Scenario (B = 4 envs, 5 calls of 10 physics steps): envs 0 and 1 start near the keyframe `home`
with the arm moving freely (smooth joint-target ramps) and the sheet lying on the table; envs 2
and 3 start with the tool-tip pad vertical just above the table, 2 mm from the sheet's edge, and
swing shoulder_pan so that the pad pushes the sheet about 9 mm.
"""

import copy
import importlib.util
import threading

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from mjx_gr00t.envs.paper_card import PaperCardConfig, load_model
from mjx_gr00t.physics import (
    ENGINES, OVERRIDABLE_FIELDS, PhysicsState, make_engine, resolve_engine_name,
)
from mjx_gr00t.physics.c_engine import CEngine
from mjx_gr00t.physics.mjx_engine import MjxEngine

B, CALLS, NSTEPS = 4, 5, 10
FREE_ENVS, PUSH_ENVS = (0, 1), (2, 3)
ARM = slice(0, 6)  # qpos and qvel share the arm's addresses (hinges)
FIELDS = ("actuator_biasprm", "actuator_gainprm", "body_mass", "geom_friction")
ROUNDS_CONCURRENT = 20  # calls per thread in the two-thread test

# ----- tolerances (measured on this 2-core CPU, MuJoCo/MJX 3.17, jax 0.9.2) -----
# mjx (float32) vs c (float64 inside a call, float32 between calls), envs without the pad touching
# the sheet, nominal and varied overrides. Measured max over the 5 calls: qpos 2.5e-6 (the sheet's
# quaternion; arm 1.2e-7 rad), qvel 8.0e-4 (the sheet popping out of its 0.5 mm keyframe
# penetration, a stiff contact that amplifies float32 rounding; arm 2.8e-5 rad/s). ~5-10x headroom.
FREE_QPOS_TOL = 2e-5
FREE_QVEL_TOL = 4e-3
# Envs where the pad pushes the 3 g sheet: the arm barely feels the sheet, but the sheet's own
# motion is chaotic under the contact solve (float32 vs float64, 4 solver iterations: its velocity
# differs by several m/s between engines), so it is compared only by how far it was pushed.
# Measured: arm qpos 3.6e-5 rad, arm qvel 1.9e-3 rad/s; sheet y travel 6-10 mm, engines 1.9 mm apart.
PUSH_ARM_QPOS_TOL = 5e-4
PUSH_ARM_QVEL_TOL = 5e-2
PUSH_MIN_TRAVEL_M = 3e-3  # both engines must push the sheet at least this far in -y
PUSH_TRAVEL_TOL_M = 5e-3  # and agree on its y travel to within this
# c engine vs continuous float64 mj_step (no float32 rounding and no warm-start reset between
# calls). Measured, free envs: qpos 1.8e-6, qvel 6.2e-5 (the sheet popping out of the table; the
# arm alone ~1e-7 / 3e-6). ~10x headroom. Push envs: arm only, with the PUSH_ARM tolerances
# (measured 7.3e-6 rad, 2.1e-3 rad/s: the chaotic sheet feeds back into the arm).
C_F64_QPOS_TOL = 2e-5
C_F64_QVEL_TOL = 1e-3
# Known MJX/C difference (MuJoCo 3.17): with the implicitfast integrator, C drops an actuator's
# velocity derivative (kv) from the implicit update while its force is clamped by forcerange; MJX
# keeps it, so the two diverge (mm, 0.1 rad/s per 10 steps) whenever a servo saturates. The
# scenario is built to stay below the 2.94 N m limit; this margin asserts that precondition.
SATURATION_MARGIN = 0.9


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return load_model(PaperCardConfig())


def _tip_xy(m: mujoco.MjModel, arm_q) -> np.ndarray:
    d = mujoco.MjData(m)
    d.qpos[:6] = arm_q
    mujoco.mj_kinematics(m, d)
    return d.geom("tool_tip").xpos[:2].copy()


@pytest.fixture(scope="module")
def scenario(model):
    """Initial states (B, nq) / (B, nv) float32 and controls (B, CALLS, NSTEPS, nu) float32."""
    m = model
    rng = np.random.default_rng(0)
    home = m.key("home").qpos.copy()
    push = home.copy()
    push[:6] = (0.0, -0.254, 0.769, 1.056, 0.0, 0.0)  # pad vertical, its bottom 1 mm above the table
    tip = _tip_xy(m, push[:6])
    paper_half_y, pad_radius = m.geom("paper").size[1], m.geom("tool_tip").size[0]
    push[6:9] = (tip[0], tip[1] - pad_radius - 0.002 - paper_half_y, m.geom("paper").size[2])
    qpos = np.stack([home, home, push, push])
    qpos[FREE_ENVS, :6] += rng.uniform(-0.01, 0.01, (len(FREE_ENVS), 6))
    # Push envs: perturb mostly the joints that keep the pad's height (pan, roll).
    qpos[PUSH_ENVS, :6] += rng.uniform(-1, 1, (len(PUSH_ENVS), 6)) * (0.01, 0.002, 0.002, 0.002, 0.01, 0.01)
    qpos = qpos.astype(np.float32)
    qvel = np.zeros((B, m.nv), np.float32)
    # Targets start at the initial pose (no initial saturation) and follow A (1 - cos(w t)): zero
    # velocity at the start, a half-period over the 50 steps.
    t = np.arange(1, CALLS * NSTEPS + 1) * m.opt.timestep
    w = np.pi / t[-1]
    amp = np.array([
        [0.03, -0.03, 0.03, 0.04, 0.05, 0.05],
        [-0.03, 0.03, -0.03, -0.04, -0.05, 0.05],
        [0.03, 0.0, 0.0, 0.0, 0.0, 0.0],  # pan swings the pad into the sheet (-y)
        [0.035, 0.0, 0.0, 0.0, 0.02, 0.0],
    ])
    ctrl = qpos[:, None, :6] + amp[:, None, :] * (1 - np.cos(w * t))[None, :, None]
    ctrl = ctrl.reshape(B, CALLS, NSTEPS, m.nu).astype(np.float32)
    return qpos, qvel, ctrl


def _nominal_overrides(m: mujoco.MjModel, batch: int = B) -> dict[str, np.ndarray]:
    return {f: np.tile(np.asarray(getattr(m, f), np.float32), (batch,) + (1,) * getattr(m, f).ndim)
            for f in FIELDS}


def _varied_overrides(m: mujoco.MjModel) -> dict[str, np.ndarray]:
    """Different body_mass / geom_friction / servo gains in each env (float32, as DR makes them)."""
    ov = _nominal_overrides(m)
    mass, fric, gain, bias = ov["body_mass"], ov["geom_friction"], ov["actuator_gainprm"], ov["actuator_biasprm"]
    paper_b, paper_g, table_g = m.body("paper").id, m.geom("paper").id, m.geom("table").id

    def kp(env, scale):
        gain[env, :, 0] *= scale
        bias[env, :, 1] *= scale

    mass[0, [m.body("upper_arm").id, m.body("lower_arm").id]] *= 1.3
    kp(0, 0.9)
    kp(1, 1.1)
    bias[1, :, 2] *= 1.5  # kv
    mass[1, m.body("gripper").id] *= 0.8
    fric[2, [paper_g, table_g], 0] *= 0.6
    mass[2, paper_b] *= 1.5
    fric[3, [paper_g, table_g], 0] *= 1.4
    kp(3, 0.95)
    return ov


def _model_with(m: mujoco.MjModel, fields: dict[str, np.ndarray], env: int) -> mujoco.MjModel:
    out = copy.deepcopy(m)
    for name, value in fields.items():
        getattr(out, name)[...] = np.asarray(value[env], np.float64)
    return out


def _reference(m, qpos, qvel, ctrl, fields=None, per_call=True):
    """Plain mujoco.mj_step in float64, env by env.

    per_call=True follows the engine contract: each call starts from the float32 state with a zero
    warm start, and its result is rounded to float32. per_call=False steps one continuous float64
    trajectory. Returns qpos (B, CALLS, nq), qvel (B, CALLS, nv), and the largest |actuator force|.
    """
    nb = qpos.shape[0]
    out_q = np.empty((nb, CALLS, m.nq))
    out_v = np.empty((nb, CALLS, m.nv))
    max_force = 0.0
    for b in range(nb):
        mb = _model_with(m, fields, b) if fields else m
        d = mujoco.MjData(mb)
        d.qpos[:], d.qvel[:] = qpos[b], qvel[b]
        for c in range(ctrl.shape[1]):
            if per_call:
                d.time = 0.0
                d.qacc_warmstart[:] = 0.0
            for k in range(ctrl.shape[2]):
                d.ctrl[:] = ctrl[b, c, k]
                mujoco.mj_step(mb, d)
                max_force = max(max_force, float(np.abs(d.actuator_force).max()))
            if per_call:
                d.qpos[:] = d.qpos.astype(np.float32)
                d.qvel[:] = d.qvel.astype(np.float32)
            out_q[b, c], out_v[b, c] = d.qpos, d.qvel
    return out_q, out_v, max_force


def _run(step, qpos, qvel, ctrl, overrides):
    """Calls a jitted, vmapped engine step CALLS times; returns qpos/qvel (B, CALLS, ...) numpy."""
    state = PhysicsState(jnp.asarray(qpos), jnp.asarray(qvel))
    ov = {k: jnp.asarray(v) for k, v in overrides.items()}
    qs, vs = [], []
    for c in range(ctrl.shape[1]):
        state = step(state, jnp.asarray(ctrl[:, c]), ov)
        qs.append(np.asarray(state.qpos))
        vs.append(np.asarray(state.qvel))
    return np.stack(qs, 1), np.stack(vs, 1)


@pytest.fixture(scope="module")
def mjx_step(model):
    """The module's single MJX compile: jit(vmap(step)) for B envs with the FIELDS overrides."""
    return jax.jit(jax.vmap(MjxEngine(model).step))


@pytest.fixture(scope="module")
def c_step(model):
    engine = CEngine(model)
    yield jax.jit(jax.vmap(engine.step))
    engine.close()


@pytest.fixture(scope="module")
def c_nominal(c_step, scenario):
    qpos, qvel, ctrl = scenario
    return _run(c_step, qpos, qvel, ctrl, {})


@pytest.fixture(scope="module")
def mjx_nominal(mjx_step, model, scenario):
    qpos, qvel, ctrl = scenario
    # Nominal float32 values: identical to the fields put_model made, and the same compile as below.
    return _run(mjx_step, qpos, qvel, ctrl, _nominal_overrides(model))


def _assert_mjx_close_to_c(mjx_res, c_res, scenario):
    (xq, xv), (cq, cv) = mjx_res, c_res
    qpos0 = scenario[0]
    for c in range(CALLS):
        for b in FREE_ENVS:
            np.testing.assert_allclose(xq[b, c], cq[b, c], rtol=0, atol=FREE_QPOS_TOL, err_msg=f"env {b} call {c}")
            np.testing.assert_allclose(xv[b, c], cv[b, c], rtol=0, atol=FREE_QVEL_TOL, err_msg=f"env {b} call {c}")
        for b in PUSH_ENVS:
            np.testing.assert_allclose(xq[b, c, ARM], cq[b, c, ARM], rtol=0, atol=PUSH_ARM_QPOS_TOL,
                                       err_msg=f"env {b} call {c}")
            np.testing.assert_allclose(xv[b, c, ARM], cv[b, c, ARM], rtol=0, atol=PUSH_ARM_QVEL_TOL,
                                       err_msg=f"env {b} call {c}")
    for b in PUSH_ENVS:  # both engines push the sheet the same way
        travel = [q[b, -1, 7] - qpos0[b, 7] for q in (xq, cq)]
        for t in travel:
            assert t < -PUSH_MIN_TRAVEL_M, f"env {b}: sheet moved {t * 1e3:.2f} mm in y"
        assert abs(travel[0] - travel[1]) < PUSH_TRAVEL_TOL_M, f"env {b}: mjx {travel[0]}, c {travel[1]}"
    for b in range(B):
        assert np.all(np.isfinite(xq[b])) and np.all(np.isfinite(xv[b]))


# ----- parity -----

def test_scenario_preconditions(model, scenario):
    """The scenario moves the arm, pushes the sheet and stays clear of servo saturation."""
    qpos, qvel, ctrl = scenario
    ref_q, _, max_force = _reference(model, qpos, qvel, ctrl)
    assert max_force < SATURATION_MARGIN * model.actuator_forcerange[:, 1].min(), max_force
    assert np.abs(ref_q[:, -1, ARM] - qpos[:, ARM]).max(axis=1).min() > 0.03  # every arm moves
    for b in PUSH_ENVS:
        assert ref_q[b, -1, 7] - qpos[b, 7] < -PUSH_MIN_TRAVEL_M
    for b in FREE_ENVS:
        np.testing.assert_allclose(ref_q[b, -1, 6:8], qpos[b, 6:8], atol=1e-5)  # sheet untouched


def test_c_engine_equals_mujoco_stepping_bitwise(model, scenario, c_nominal):
    """Same C code, same float64 model and inputs: no tolerance, so no state leaks between calls."""
    qpos, qvel, ctrl = scenario
    ref_q, ref_v, _ = _reference(model, qpos, qvel, ctrl)
    cq, cv = c_nominal
    assert cq.dtype == np.float32 and cv.dtype == np.float32
    np.testing.assert_array_equal(cq, ref_q)
    np.testing.assert_array_equal(cv, ref_v)


def test_c_engine_close_to_continuous_float64(model, scenario, c_nominal):
    """Rounding to float32 and resetting warm starts between calls changes little."""
    qpos, qvel, ctrl = scenario
    ref_q, ref_v, _ = _reference(model, qpos, qvel, ctrl, per_call=False)
    cq, cv = c_nominal
    for b in FREE_ENVS:
        np.testing.assert_allclose(cq[b], ref_q[b], rtol=0, atol=C_F64_QPOS_TOL, err_msg=f"env {b}")
        np.testing.assert_allclose(cv[b], ref_v[b], rtol=0, atol=C_F64_QVEL_TOL, err_msg=f"env {b}")
    for b in PUSH_ENVS:
        np.testing.assert_allclose(cq[b, :, ARM], ref_q[b, :, ARM], rtol=0, atol=PUSH_ARM_QPOS_TOL, err_msg=f"env {b}")
        np.testing.assert_allclose(cv[b, :, ARM], ref_v[b, :, ARM], rtol=0, atol=PUSH_ARM_QVEL_TOL, err_msg=f"env {b}")


def test_mjx_matches_c(scenario, mjx_nominal, c_nominal):
    _assert_mjx_close_to_c(mjx_nominal, c_nominal, scenario)


# ----- per-env overrides -----

@pytest.fixture(scope="module")
def c_varied(c_step, model, scenario):
    qpos, qvel, ctrl = scenario
    return _run(c_step, qpos, qvel, ctrl, _varied_overrides(model))


def test_overrides_change_each_env(c_varied, c_nominal):
    """Precondition for the override tests: every env's overrides visibly change its motion."""
    (vq, _), (nq, _) = c_varied, c_nominal
    for b in FREE_ENVS:  # masses and gains: the arm
        assert np.abs(vq[b, :, ARM] - nq[b, :, ARM]).max() > 1e-4, b
    for b in PUSH_ENVS:  # friction and sheet mass: the sheet
        assert np.abs(vq[b, :, 6:9] - nq[b, :, 6:9]).max() > 1e-4, b


def test_c_engine_overrides_equal_mujoco_with_fields_set(model, scenario, c_varied):
    qpos, qvel, ctrl = scenario
    fields = _varied_overrides(model)
    ref_q, ref_v, max_force = _reference(model, qpos, qvel, ctrl, fields)
    assert max_force < SATURATION_MARGIN * model.actuator_forcerange[:, 1].min(), max_force
    np.testing.assert_array_equal(c_varied[0], ref_q)
    np.testing.assert_array_equal(c_varied[1], ref_v)


def test_mjx_overrides_match_c(mjx_step, model, scenario, c_varied):
    qpos, qvel, ctrl = scenario
    mjx_varied = _run(mjx_step, qpos, qvel, ctrl, _varied_overrides(model))
    _assert_mjx_close_to_c(mjx_varied, c_varied, scenario)


def _one_call(step, scenario, overrides, envs=tuple(range(B))):
    qpos, qvel, ctrl = scenario
    envs = list(envs)
    state = step(PhysicsState(jnp.asarray(qpos[envs]), jnp.asarray(qvel[envs])),
                 jnp.asarray(ctrl[envs, 0]), {k: jnp.asarray(v) for k, v in overrides.items()})
    return np.asarray(state.qpos), np.asarray(state.qvel)


def _one_call_reference(model, scenario, overrides, env):
    qpos, qvel, ctrl = scenario
    fields = {k: v[env:env + 1] for k, v in overrides.items()}
    q, v, _ = _reference(model, qpos[env:env + 1], qvel[env:env + 1], ctrl[env:env + 1, :1], fields)
    return q[0, 0], v[0, 0]


def test_c_engine_rewrites_changed_rows(model, scenario):
    """The c engine writes a model row only when it changed: changing rows back and forth, and
    shrinking and regrowing the batch, must still give each call its own overrides."""
    engine = CEngine(model)
    try:
        step = jax.jit(jax.vmap(engine.step))
        a = _varied_overrides(model)
        b = {k: v.copy() for k, v in a.items()}
        b["actuator_gainprm"][1, :, 0] *= 0.7  # env 1: softer servos
        b["actuator_biasprm"][1, :, 1] *= 0.7
        b["geom_friction"][2, model.geom("paper").id, 0] *= 0.5  # env 2: slipperier sheet

        first = _one_call(step, scenario, a)
        for env in range(B):
            ref = _one_call_reference(model, scenario, a, env)
            np.testing.assert_array_equal(first[0][env], ref[0])
            np.testing.assert_array_equal(first[1][env], ref[1])

        changed = _one_call(step, scenario, b)
        for env in range(B):
            ref = _one_call_reference(model, scenario, b, env)
            np.testing.assert_array_equal(changed[0][env], ref[0], err_msg=f"env {env}")
            np.testing.assert_array_equal(changed[1][env], ref[1], err_msg=f"env {env}")
        assert np.abs(changed[0][1, ARM] - first[0][1, ARM]).max() > 1e-5  # the change mattered

        again = _one_call(step, scenario, a)  # rows 1 and 2 changed back
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])

        # Batch of 2 holding envs 2 and 3's values: model slots 0 and 1 are rewritten ...
        small = _one_call(step, scenario, {k: v[2:] for k, v in a.items()}, envs=(2, 3))
        np.testing.assert_array_equal(small[0], first[0][2:])
        np.testing.assert_array_equal(small[1], first[1][2:])
        # ... and back again when the full batch returns.
        regrown = _one_call(step, scenario, a)
        np.testing.assert_array_equal(regrown[0], first[0])
        np.testing.assert_array_equal(regrown[1], first[1])
    finally:
        engine.close()


def test_c_engine_forgets_a_field_left_out_of_the_overrides(model, scenario):
    """A call's result depends on its inputs alone (Engine.step's contract): a field overridden in
    an earlier call but absent now must be back at its nominal value."""
    engine = CEngine(model)
    try:
        step = jax.jit(jax.vmap(engine.step))
        nominal = _one_call(step, scenario, {"geom_friction": _nominal_overrides(model)["geom_friction"]})
        heavy = _nominal_overrides(model)
        heavy["body_mass"][:, 1:8] *= 2.0  # all arm bodies
        _one_call(step, scenario, heavy)
        after = _one_call(step, scenario, {"geom_friction": heavy["geom_friction"]})
        np.testing.assert_array_equal(after[0], nominal[0])
        np.testing.assert_array_equal(after[1], nominal[1])
    finally:
        engine.close()


def test_c_engine_calls_from_two_threads_take_turns(model, scenario, c_step):
    """A grid split over devices calls the engine from one thread per device. The pool, buffers and
    model copies are shared, so unserialised calls overwrite each other's model rows (or crash);
    each concurrent call must give what it gives alone."""
    a = _varied_overrides(model)
    b = {k: v[::-1].copy() for k, v in a.items()}
    want = {"a": _one_call(c_step, scenario, a), "b": _one_call(c_step, scenario, b)}
    got: dict[str, list] = {"a": [], "b": []}

    def worker(name, overrides):
        for _ in range(ROUNDS_CONCURRENT):
            got[name].append(_one_call(c_step, scenario, overrides))

    threads = [threading.Thread(target=worker, args=(n, o)) for n, o in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("a", "b"):
        assert len(got[name]) == ROUNDS_CONCURRENT
        for q, v in got[name]:
            np.testing.assert_array_equal(q, want[name][0], err_msg=name)
            np.testing.assert_array_equal(v, want[name][1], err_msg=name)


# ----- determinism -----

def test_c_engine_is_deterministic_across_calls_and_batch_sizes(model, scenario, c_step):
    overrides = _varied_overrides(model)
    full = _one_call(c_step, scenario, overrides)
    for _ in range(2):
        repeat = _one_call(c_step, scenario, overrides)
        np.testing.assert_array_equal(repeat[0], full[0])
        np.testing.assert_array_equal(repeat[1], full[1])
    for envs in ((3,), (1, 0), (2, 3, 1)):
        sub = _one_call(c_step, scenario, {k: v[list(envs)] for k, v in overrides.items()}, envs=envs)
        np.testing.assert_array_equal(sub[0], full[0][list(envs)], err_msg=f"batch {envs}")
        np.testing.assert_array_equal(sub[1], full[1][list(envs)], err_msg=f"batch {envs}")
    # The same env in every slot of a batch gives the same result in every slot.
    same = _one_call(c_step, scenario, {k: np.repeat(v[2:3], B, 0) for k, v in overrides.items()},
                     envs=(2,) * B)
    np.testing.assert_array_equal(same[0], np.repeat(full[0][2:3], B, 0))


# ----- non-finite input -----

@pytest.mark.parametrize("field", ["qvel", "qpos"])
def test_c_engine_non_finite_env_is_isolated(model, scenario, c_step, field):
    qpos, qvel, ctrl = scenario
    bad = 2
    q, v = qpos.copy(), qvel.copy()
    (v if field == "qvel" else q)[bad, 1] = np.nan
    u = jnp.asarray(ctrl[:, 0])
    out = c_step(PhysicsState(jnp.asarray(q), jnp.asarray(v)), u, {})
    clean = c_step(PhysicsState(jnp.asarray(qpos), jnp.asarray(qvel)), u, {})
    out_q, out_v = np.asarray(out.qpos), np.asarray(out.qvel)
    # MuJoCo's auto-reset is off, so the env comes back non-finite instead of silently at qpos0.
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_AUTORESET == 0  # the scene's own flag
    assert not (np.all(np.isfinite(out_q[bad])) and np.all(np.isfinite(out_v[bad])))
    others = [i for i in range(B) if i != bad]
    np.testing.assert_array_equal(out_q[others], np.asarray(clean.qpos)[others])
    np.testing.assert_array_equal(out_v[others], np.asarray(clean.qvel)[others])
    # The engine keeps working afterwards.
    again = c_step(PhysicsState(jnp.asarray(qpos), jnp.asarray(qvel)), u, {})
    np.testing.assert_array_equal(np.asarray(again.qpos), np.asarray(clean.qpos))


def test_c_engine_disables_autoreset(model):
    engine = CEngine(model, nthread=1)
    try:
        assert engine.mj_model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_AUTORESET
        assert engine.mj_model is not model  # the caller's model is left alone
    finally:
        engine.close()


# ----- engine selection and errors -----

def test_unknown_engine_name_lists_valid_engines(model):
    with pytest.raises(ValueError) as err:
        make_engine("nope", model)
    for name in ENGINES:
        assert repr(name) in str(err.value)
    assert "nope" in str(err.value)


def test_auto_resolves_to_c_on_cpu():
    assert jax.default_backend() == "cpu"
    assert resolve_engine_name("auto") == "c"
    assert resolve_engine_name("mjx") == "mjx" and resolve_engine_name("c") == "c"


def test_make_engine_builds_the_named_engine(model):
    engine = make_engine("auto", model)
    try:
        assert isinstance(engine, CEngine) and engine.name == "c"
    finally:
        engine.close()
    assert isinstance(make_engine("mjx", model), MjxEngine)  # put_model only: nothing compiles


def test_warp_without_the_package_says_how_to_install(model, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "warp" else real(name, *a, **k))
    with pytest.raises(RuntimeError, match="pip install warp-lang"):
        make_engine("warp", model)


@pytest.mark.parametrize("engine_name", ["c", "mjx"])
def test_unknown_override_field_raises(model, engine_name):
    engine = make_engine(engine_name, model)
    state = PhysicsState(jnp.zeros(model.nq, jnp.float32), jnp.zeros(model.nv, jnp.float32))
    ctrl = jnp.zeros((1, model.nu), jnp.float32)
    try:
        with pytest.raises(ValueError, match="body_pos") as err:
            engine.step(state, ctrl, {"body_pos": jnp.asarray(model.body_pos, jnp.float32)})
        for field in OVERRIDABLE_FIELDS:
            assert field in str(err.value)
    finally:
        if isinstance(engine, CEngine):
            engine.close()
