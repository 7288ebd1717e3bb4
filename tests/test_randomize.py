"""Domain randomisation of the paper task: switches, ranges, per-env draws, validation, and that
changing ranges or draws never retraces. `c` engine; one compiled reset and step serve all ranges."""

import dataclasses

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_gr00t import randomize
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_card import CardDRConfig, CardDRRanges, PaperCardConfig

B = 8
FACTORS = [f.name for f in dataclasses.fields(CardDRConfig)]


@pytest.fixture(scope="module")
def env():
    return registry.make("paper_card", PaperCardConfig(engine="c", num_envs=B, episode_length=5))


def _counted(env):
    """Freshly jitted vmapped reset (explicit ranges, shared by the batch) and step, each counting
    its traces (Python calls of the traced function)."""
    traces = {"reset": 0, "step": 0}

    def reset_fn(key, ranges):
        traces["reset"] += 1
        return env.reset(key, ranges)

    def step_fn(state, action):
        traces["step"] += 1
        return env.step(state, action)

    return jax.jit(jax.vmap(reset_fn, in_axes=(0, None))), jax.jit(jax.vmap(step_fn)), traces


@pytest.fixture(scope="module")
def counted(env):
    return _counted(env)


def _keys(seed: int) -> jax.Array:
    return jax.random.split(jax.random.PRNGKey(seed), B)


def _only_off(name: str) -> CardDRConfig:
    default = CardDRConfig()
    return dataclasses.replace(default, **{name: dataclasses.replace(getattr(default, name), enabled=False)})


def _draws(env, state) -> dict[str, np.ndarray]:
    """The drawn value of each factor, per env, read back from the state."""
    task, m = env.task, env.task.mj_model
    qpos = np.asarray(state.physics.qpos)
    paper = qpos[:, task.paper_qpos:task.paper_qpos + 7]
    w, z = paper[:, 3], paper[:, 6]
    ov = {k: np.asarray(v) for k, v in state.info.overrides.items()}
    paper_geom, table_geom = task._slip_geoms
    body = int(task._paper_body[0])
    return {
        "paper_xy": paper[:, :2] - np.asarray(task.config.paper_start),
        "paper_yaw": 2 * np.arctan2(z, w),
        "friction": ov["geom_friction"][:, paper_geom, 0] / m.geom_friction[paper_geom, 0],
        "friction_table": ov["geom_friction"][:, table_geom, 0] / m.geom_friction[table_geom, 0],
        "paper_mass": ov["body_mass"][:, body] / m.body_mass[body],
        "paper_inertia": ov["body_inertia"][:, body] / m.body_inertia[body],
        "actuator_gain": ov["actuator_gainprm"][:, :, 0] / m.actuator_gainprm[:, 0],
        "actuator_bias": ov["actuator_biasprm"][:, :, 1] / m.actuator_biasprm[:, 1],
    }


NEUTRAL = {"paper_xy": 0.0, "paper_yaw": 0.0, "friction": 1.0, "paper_mass": 1.0, "actuator_gain": 1.0}


def _assert_neutral(draws: dict[str, np.ndarray], name: str) -> None:
    np.testing.assert_allclose(draws[name], NEUTRAL[name], atol=1e-6, err_msg=name)


def _assert_varies_in_range(draws: dict[str, np.ndarray], name: str, factor: randomize.Factor) -> None:
    values = draws[name]
    assert np.all(values >= factor.low - 1e-6) and np.all(values <= factor.high + 1e-6), (name, values)
    flat = values.reshape(B, -1)
    assert np.unique(np.round(flat[:, 0], 7)).size == B, (name, values)  # every env its own draw
    assert np.ptp(flat) > 0.2 * (factor.high - factor.low), (name, values)


def test_all_on_varies_within_range(env, counted):
    reset, _, _ = counted
    dr = CardDRConfig()
    draws = _draws(env, reset(_keys(0), CardDRRanges.from_config(dr)))
    for name in FACTORS:
        _assert_varies_in_range(draws, name, getattr(dr, name))
    # Coupled fields follow the same draw.
    np.testing.assert_allclose(draws["friction_table"], draws["friction"], rtol=1e-6)
    np.testing.assert_allclose(draws["paper_inertia"], np.repeat(draws["paper_mass"][:, None], 3, 1), rtol=1e-6)
    np.testing.assert_allclose(draws["actuator_bias"], draws["actuator_gain"], rtol=1e-6)
    # Per actuator, not one scale for all.
    assert np.all(np.ptp(draws["actuator_gain"], axis=1) > 0)


@pytest.mark.parametrize("name", FACTORS)
def test_each_factor_switches_off_on_its_own(env, counted, name):
    reset, _, _ = counted
    dr = _only_off(name)
    draws = _draws(env, reset(_keys(1), CardDRRanges.from_config(dr)))
    _assert_neutral(draws, name)
    for other in FACTORS:
        if other != name:
            _assert_varies_in_range(draws, other, getattr(dr, other))


def test_all_off_from_config_is_nominal(env):
    off_env = registry.make("paper_card", PaperCardConfig(engine="c", num_envs=B, dr=CardDRConfig.off()))
    state = jax.jit(jax.vmap(off_env.reset))(_keys(2))
    draws = _draws(off_env, state)
    for name in FACTORS:
        _assert_neutral(draws, name)
    quat = np.asarray(state.physics.qpos)[:, off_env.task.paper_qpos + 3:off_env.task.paper_qpos + 7]
    np.testing.assert_array_equal(quat, np.broadcast_to([1.0, 0, 0, 0], (B, 4)))
    m = off_env.task.mj_model
    for field in ("geom_friction", "body_mass", "body_inertia", "actuator_gainprm", "actuator_biasprm"):
        nominal = np.broadcast_to(getattr(m, field).astype(np.float32), state.info.overrides[field].shape)
        np.testing.assert_allclose(state.info.overrides[field], nominal, rtol=1e-6, err_msg=field)


def test_fresh_draws_at_every_reset(env, counted):
    reset, _, _ = counted
    ranges = CardDRRanges.from_config(CardDRConfig())
    a, b, again = (_draws(env, reset(_keys(s), ranges)) for s in (3, 4, 3))
    for name in FACTORS:
        assert np.all(np.any((a[name] != b[name]).reshape(B, -1), axis=1)), name  # every env redrawn
        np.testing.assert_array_equal(a[name], again[name])  # same key, same draw


def test_per_env_ranges_can_differ_within_a_batch(env):
    """Ranges are data: a batch can mix DR on and off (vmapped ablation arms)."""
    on, off = CardDRRanges.from_config(CardDRConfig()), CardDRRanges.from_config(CardDRConfig.off())
    mixed = jax.tree.map(lambda x, y: jnp.stack([x, y] * (B // 2)), on, off)
    state = jax.jit(jax.vmap(env.reset))(_keys(5), mixed)
    draws = _draws(env, state)
    for name in FACTORS:
        np.testing.assert_allclose(draws[name][1::2], NEUTRAL[name], atol=1e-6, err_msg=name)
        assert np.all(np.any((draws[name][0::2] != NEUTRAL[name]).reshape(B // 2, -1), axis=1)), name


@pytest.mark.parametrize("name", FACTORS)
def test_inverted_range_names_the_factor(name):
    default = getattr(CardDRConfig(), name)
    with pytest.raises(ValueError, match=f"'{name}'.*inverted"):
        CardDRConfig(**{name: randomize.Factor(default.high + 0.1, default.low)})


def test_non_finite_bound_names_the_factor():
    with pytest.raises(ValueError, match="'friction'.*finite"):
        CardDRConfig(friction=randomize.Factor(0.8, float("inf")))


def test_changing_ranges_and_draws_does_not_retrace(env):
    reset, step, traces = _counted(env)
    wide = CardDRConfig(
        paper_xy=randomize.Factor(-0.02, 0.08), paper_yaw=randomize.Factor(-1.0, 1.0),
        friction=randomize.Factor(0.5, 1.5), paper_mass=randomize.Factor(0.5, 2.0),
        actuator_gain=randomize.Factor(0.7, 1.3),
    )
    configs = [CardDRConfig(), CardDRConfig.off(), wide, _only_off("friction")]
    states = [reset(_keys(10 + i), CardDRRanges.from_config(dr)) for i, dr in enumerate(configs)]
    assert traces["reset"] == 1, traces
    # The states really differ in ranges and draws.
    assert not np.array_equal(states[0].info.dr_ranges.paper_yaw, states[2].info.dr_ranges.paper_yaw)
    assert not np.array_equal(states[0].info.overrides["body_mass"], states[2].info.overrides["body_mass"])
    action = jnp.zeros((B, 6))
    for state in states:
        for _ in range(2):
            state = step(state, action)
    jax.block_until_ready(state)
    assert traces == {"reset": 1, "step": 1}, traces
    # Auto-resets keep drawing from each state's own ranges: run the DR-off states to the time
    # limit; the fresh episodes are nominal again (the default config's DR is on).
    state = states[1]
    for _ in range(env.episode_length):
        state = step(state, action)
    np.testing.assert_array_equal(state.done, 1.0)
    draws = _draws(env, state)
    for name in FACTORS:
        np.testing.assert_allclose(draws[name], NEUTRAL[name], atol=1e-6, err_msg=name)
    assert traces == {"reset": 1, "step": 1}, traces


# ----- helpers for ablations: factor names, one factor alone, wider ranges -----

def test_factor_names_in_field_order():
    assert randomize.factor_names(CardDRConfig) == tuple(FACTORS)
    assert randomize.factor_names(CardDRConfig()) == tuple(FACTORS)


def test_with_enabled_keeps_exactly_the_named_factors():
    dr = randomize.with_enabled(CardDRConfig(), ("friction", "paper_yaw"))
    assert [n for n in FACTORS if getattr(dr, n).enabled] == ["paper_yaw", "friction"]
    for name in FACTORS:  # ranges kept, only the switches change
        assert (getattr(dr, name).low, getattr(dr, name).high) == (getattr(CardDRConfig(), name).low,
                                                                  getattr(CardDRConfig(), name).high)
    assert randomize.with_enabled(CardDRConfig(), ()) == CardDRConfig.off()
    with pytest.raises(ValueError, match=r"unknown DR factor\(s\) \['mass'\]; valid factors: paper_xy"):
        randomize.with_enabled(CardDRConfig(), ("mass",))


def test_neutral_values_come_from_the_tasks_own_ranges():
    from mjx_gr00t.envs.fetch.config import FetchDRConfig, FetchDRRanges

    assert randomize.neutral_values(CardDRConfig, CardDRRanges.from_config) == NEUTRAL
    assert set(randomize.neutral_values(FetchDRConfig, FetchDRRanges.from_config).values()) == {1.0}


def test_widened_scales_each_range_about_its_neutral_value():
    neutral = randomize.neutral_values(CardDRConfig, CardDRRanges.from_config)
    wide = randomize.widened(CardDRConfig.off(), 1.5, neutral)  # switched-off factors come back on
    expect = {"paper_xy": (-0.075, 0.075), "paper_yaw": (-0.45, 0.45), "friction": (0.7, 1.3),
              "paper_mass": (0.85, 1.15), "actuator_gain": (0.85, 1.15)}
    for name, (low, high) in expect.items():
        factor = getattr(wide, name)
        assert factor.enabled and factor.low == pytest.approx(low) and factor.high == pytest.approx(high), name
    same = randomize.widened(CardDRConfig(), 1.0, neutral)
    for name in FACTORS:
        got, default = getattr(same, name), getattr(CardDRConfig(), name)
        assert (got.low, got.high) == pytest.approx((default.low, default.high)), name
    with pytest.raises(ValueError, match=r"'friction' .* to a low of -0.2 <= 0; use a width below 5"):
        randomize.widened(CardDRConfig(), 6.0, neutral)
    with pytest.raises(ValueError, match="width must be a finite number >= 0"):
        randomize.widened(CardDRConfig(), float("nan"), neutral)
