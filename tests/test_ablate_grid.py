"""The DR ablation grid (mjx_gr00t.ablate.grid) on a tiny grid (2 arms x 2 seeds, 4 envs, zero base):
arms that really differ, a vmapped cell equal to the same cell trained alone, and the grid split
over two devices equal to one device."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from mjx_gr00t.ablate import grid as ablate_grid
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.ablate.run import build
from mjx_gr00t.ablate.settings import AblationSettings
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import ppo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 3
# 4 envs x 4 steps = 16 env steps per iteration and cell; 3 iterations (the same as test_ablate_dr's TINY).
TINY = AblationSettings(
    arms=("none", "all"), seeds=(0, 1), base="zero", engine="c", num_envs=4, unroll_length=4, num_minibatches=2,
    update_epochs=1, hidden=(16, 16), total_steps=16 * ITERATIONS, eval_episodes=8,
)
# A vmapped cell and the same cell trained alone: XLA may order float sums differently in a batched
# matmul, so compare within this tolerance (not bitwise). Measured after 3 iterations: at most 3e-8 on one
# 2-core machine, 2.1e-6 on another (2026-12-06, the same code): the contact physics amplifies the order.
ALONE_ATOL = 1e-5
NOMINAL = {"paper_xy": 0.0, "paper_yaw": 0.0, "friction": 1.0, "paper_mass": 1.0, "actuator_gain": 1.0}


@pytest.fixture(scope="module")
def built():
    env, grid, _, _ = build(TINY)
    return TINY, env, grid


def _draws(env, env_state) -> dict[str, np.ndarray]:
    """Each factor's drawn value per env ([..., n] leading dims kept), read back from the state."""
    task, m = scene_task(env), scene_task(env).mj_model
    qpos = np.asarray(env_state.physics.qpos)
    paper = qpos[..., task.paper_qpos:task.paper_qpos + 7]
    ov = {k: np.asarray(v) for k, v in env_state.info.overrides.items()}
    paper_geom, body = int(task._slip_geoms[0]), int(task._paper_body[0])
    return {
        "paper_xy": paper[..., :2] - np.asarray(task.config.paper_start),
        "paper_yaw": 2 * np.arctan2(paper[..., 6], paper[..., 3]),
        "friction": ov["geom_friction"][..., paper_geom, 0] / m.geom_friction[paper_geom, 0],
        "paper_mass": ov["body_mass"][..., body] / m.body_mass[body],
        "actuator_gain": ov["actuator_gainprm"][..., :, 0] / m.actuator_gainprm[:, 0],
    }


def test_arms_really_differ(built):
    args, env, grid = built
    config = args.ppo_config()
    state = ablate_grid.init_grid(config, env, grid)
    draws = _draws(env, state.env_state)  # leaves [G, B, ...]
    cells = grid.cells()
    dr = scene_task(env).config.dr
    for g, (arm, _) in enumerate(cells):
        for name, value in draws.items():
            if arm.name == "none":
                np.testing.assert_allclose(value[g], NOMINAL[name], atol=1e-6, err_msg=name)
            else:  # 'all': every env its own draw, inside the default range
                factor = getattr(dr, name)
                flat = value[g].reshape(config.num_envs, -1)
                assert np.unique(np.round(flat[:, 0], 7)).size == config.num_envs, name
                assert np.all(flat >= factor.low - 1e-6) and np.all(flat <= factor.high + 1e-6), name
    # Auto-resets draw from info.dr_ranges: after training, each cell still carries its arm's ranges.
    trained = ablate_grid.make_grid_step(config, env, AlphaSchedule(alpha=args.alpha))(state)[0]
    expected = ablate_grid.grid_ranges(env, grid)
    for name in NOMINAL:
        got = np.asarray(getattr(trained.env_state.info.dr_ranges, name))  # [G, B, 2]
        want = np.asarray(getattr(expected, name))[:, None, :]
        np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape), err_msg=name)
    assert np.asarray(expected.paper_yaw)[0].tolist() == [0.0, 0.0]  # 'none'
    assert np.asarray(expected.paper_yaw)[-1].tolist() == pytest.approx([-0.3, 0.3])  # 'all'


def test_vmapped_cell_equals_the_same_cell_trained_alone(built):
    args, env, grid = built
    config, alpha = args.ppo_config(), AlphaSchedule(alpha=args.alpha)
    grid_state = ablate_grid.init_grid(config, env, grid)
    grid_step = ablate_grid.make_grid_step(config, env, alpha)
    g = grid.size - 1  # 'all', seed 1
    alone = ablate_grid.init_cell(config, env, ablate_grid.grid_keys(grid)[g],
                                  ablate_grid.cell(ablate_grid.grid_ranges(env, grid), g))
    jax.tree.map(np.testing.assert_array_equal, ablate_grid.cell(grid_state, g), alone)
    alone_step = ppo.make_train_step(config, env, alpha, mesh=ablate_grid.cell_mesh())
    for _ in range(ITERATIONS):
        grid_state, grid_metrics = grid_step(grid_state)
        alone, alone_metrics = alone_step(alone)
    vmapped = ablate_grid.cell(grid_state, g)
    for a, b in zip(jax.tree.leaves((vmapped.policy_params, vmapped.value_params, vmapped.normalizer,
                                     vmapped.env_state.obs)),
                    jax.tree.leaves((alone.policy_params, alone.value_params, alone.normalizer,
                                     alone.env_state.obs))):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), atol=ALONE_ATOL, rtol=0)
    for key in ("rollout/reward_mean", "loss/value"):
        np.testing.assert_allclose(grid_metrics[key][g], alone_metrics[key], rtol=1e-4, err_msg=key)



SHARDED = """
import mjx_gr00t
import jax, numpy as np
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.ablate import grid as ablate_grid
from mjx_gr00t.ablate.run import build
from mjx_gr00t.ablate.settings import AblationSettings
args = %s
env, grid, _, _ = build(args)
config, alpha = args.ppo_config(), AlphaSchedule(alpha=args.alpha)
single = ablate_grid.init_grid(config, env, grid)
split, devices = ablate_grid.shard_over_devices(single, grid.size)
assert devices == 2 and len(split.key.sharding.device_set) == 2, split.key.sharding
step = ablate_grid.make_grid_step(config, env, alpha)
for _ in range(2):
    single, _ = step(single)
    split, _ = step(split)
leaves = lambda s: jax.tree.leaves((s.policy_params, s.value_params, s.normalizer, s.env_state.obs))
print(max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
          for a, b in zip(leaves(single), leaves(split))))
"""


@pytest.mark.slow
def test_grid_split_over_two_devices_equals_one_device():
    """2 emulated CPU devices: the cells are split between them and train as on one device
    (measured: bitwise equal; the tolerance allows XLA a different float order)."""
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    proc = subprocess.run([sys.executable, "-c", SHARDED % (repr(TINY),)], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PYTHONPATH": REPO, "XLA_FLAGS": flags})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.strip().splitlines()[-1]) <= ALONE_ATOL
