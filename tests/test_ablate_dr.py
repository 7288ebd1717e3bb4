"""`python -m train.ablate_dr` on a tiny grid (2 arms x 2 seeds, 4 envs, 3 iterations, zero base):
one vmapped program, its outputs, arms that really differ, a grid cell equal to the same run
trained alone, and clear errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import csv
import json
import os
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.rl import ppo
from train import ablate_dr, ablate_grid, ablate_train
from train.metrics_log import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 3
# 4 envs x 4 steps = 16 env steps per iteration and cell; 3 iterations.
TINY = [
    "--arms", "none,all", "--seeds", "0", "1", "--base", "zero", "--engine", "c", "--num-envs", "4",
    "--unroll-length", "4", "--num-minibatches", "2", "--update-epochs", "1", "--hidden", "16", "16",
    "--total-steps", str(16 * ITERATIONS), "--eval-episodes", "8",
]
# A vmapped cell and the same cell trained alone: XLA may order float sums differently in a batched
# matmul, so compare within this tolerance (measured here: at most 3e-8 after 3 iterations, not bitwise).
ALONE_ATOL = 1e-6
NOMINAL = {"paper_xy": 0.0, "paper_yaw": 0.0, "friction": 1.0, "paper_mass": 1.0, "actuator_gain": 1.0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("abl") / "out"
    summary = ablate_dr.main([*TINY, "--out", str(out)])
    return out, summary


@pytest.fixture(scope="module")
def built():
    args = ablate_dr.parse(TINY)
    env, grid, _, _ = ablate_dr.build(args)
    return args, env, grid


def _draws(env, env_state) -> dict[str, np.ndarray]:
    """Each factor's drawn value per env ([..., n] leading dims kept), read back from the state."""
    task, m = ablate_grid.scene_task(env), ablate_grid.scene_task(env).mj_model
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


def test_grid_runs_as_one_program_and_writes_outputs(run, built):
    out, summary = run
    args, env, grid = built
    for name in ("results.csv", "results.md", "success.png", "metrics.jsonl", "summary.json", "run.json"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    arms = ["none", "all", "zero base alone"]
    assert [(r["arm"], r["seed"]) for r in rows] == [(a, s) for a in arms for s in ("pooled", "0", "1")]
    for r in rows:
        rate, lo, hi = float(r["success_rate"]), float(r["ci95_low"]), float(r["ci95_high"])
        assert 0.0 <= lo <= rate <= hi <= 1.0 and hi > lo, r
        assert int(r["episodes"]) == (16 if r["seed"] == "pooled" else 8), r
        assert int(r["successes"]) == round(rate * int(r["episodes"]))
    pooled = {r["arm"]: r for r in rows if r["seed"] == "pooled"}
    per_seed = [r for r in rows if r["arm"] == "none" and r["seed"] != "pooled"]
    assert int(pooled["none"]["successes"]) == sum(int(r["successes"]) for r in per_seed)
    md = (out / "results.md").read_text()
    for arm in arms:
        assert f"| {arm} | " in md, arm
    png = (out / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # One record per iteration, with each cell's rollout metrics.
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps_per_run"] for r in records] == [16, 32, 48]
    assert [r["env_steps"] for r in records] == [64, 128, 192]
    for label in ("none/seed0", "none/seed1", "all/seed0", "all/seed1"):
        assert f"{label}/success_rate" in records[-1], label
    assert "time/env_steps_per_s" in records[-1]
    saved = json.loads((out / "summary.json").read_text())
    assert saved["arms"] == ["none", "all"] and saved["env_steps_per_run"] == 48
    # One program: the grid step was compiled for the grid once and reused every iteration.
    step = ablate_grid.make_grid_step(args.ppo_config(), env, AlphaSchedule(alpha=args.alpha))
    assert step._cache_size() == 1


def test_arms_really_differ(built):
    args, env, grid = built
    config = args.ppo_config()
    state = ablate_grid.init_grid(config, env, grid)
    draws = _draws(env, state.env_state)  # leaves [G, B, ...]
    cells = grid.cells()
    dr = ablate_grid.scene_task(env).config.dr
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


def test_ctrl_c_stops_after_the_iteration_with_exit_130(tmp_path, monkeypatch, default_sigint):
    write = ablate_train.MetricsLog.write

    def write_then_ctrl_c(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C while the first iteration is logged
        return write(self, *args, **kwargs)

    monkeypatch.setattr(ablate_train.MetricsLog, "write", write_then_ctrl_c)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        ablate_dr.main([*TINY, "--out", str(out)])
    assert stop.value.code == 130
    assert [r["iteration"] for r in read_metrics(str(out / "metrics.jsonl"))] == [1]
    assert not (out / "summary.json").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_unknown_arm_is_a_clear_error(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(SystemExit, match=r"--arms: unknown arm\(s\) 'frcition'; valid arms: none, paper_xy, "
                                         r"paper_yaw, friction, paper_mass, actuator_gain, all"):
        ablate_dr.main([*TINY, "--arms", "none,frcition", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "0", "0"], "--seeds must be distinct"),
    (["--eval-width", "0.5"], "--eval-width must be >= 1"),
    (["--eval-width", "20"], "'friction'.*use a width below 5"),
    (["--total-steps", "8"], "smaller than one iteration"),
    (["--scene", "nope"], "unknown scene 'nope'"),
])
def test_bad_flags_say_what_to_fix(tmp_path, flags, message):
    with pytest.raises(SystemExit, match=message):
        ablate_dr.main([*TINY, *flags, "--out", str(tmp_path / "o")])


def test_eval_distribution_is_wider_than_training(built):
    args, env, grid = built
    wide = ablate_dr.build(ablate_dr.parse([*TINY, "--eval-width", "1.5"]))[2]
    ranges = ablate_grid.scene_task(wide).default_ranges
    np.testing.assert_allclose(ranges.paper_xy, [-0.075, 0.075], rtol=1e-6)
    np.testing.assert_allclose(ranges.friction, [0.7, 1.3], rtol=1e-6)
    np.testing.assert_allclose(ranges.actuator_gain, [0.85, 1.15], rtol=1e-6)


def test_help_explains_every_flag():
    proc = subprocess.run([sys.executable, "-m", "train.ablate_dr", "-h"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": REPO, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    for flag in ("--arms", "--seeds", "--scene", "--base", "--num-envs", "--total-steps", "--eval-width",
                 "--eval-episodes", "--eval-seed", "--out", "--overwrite", "--engine"):
        assert flag in proc.stdout, flag
    assert "30 min" in proc.stdout  # the budget reasoning is in -h


SHARDED = """
import mjx_gr00t
import jax, numpy as np
from mjx_gr00t.residual import AlphaSchedule
from train import ablate_dr, ablate_grid, ablate_train
args = ablate_dr.parse(%r)
env, grid, _, _ = ablate_dr.build(args)
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
    proc = subprocess.run([sys.executable, "-c", SHARDED % (TINY,)], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "PYTHONPATH": REPO, "XLA_FLAGS": flags})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert float(proc.stdout.strip().splitlines()[-1]) <= ALONE_ATOL
