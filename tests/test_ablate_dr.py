"""`python -m train.ablate_dr` (mjx_gr00t.ablate.run) on a tiny grid (2 arms x 2 seeds, 4 envs,
3 iterations, zero base): one vmapped program, its outputs, a wider held-out distribution, Ctrl-C,
and clear errors. The grid itself (arms that really differ, a cell equal to the same run trained
alone, the grid split over devices) is tested in test_ablate_grid.py."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from mjx_gr00t.ablate import grid as ablate_grid
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.ablate import run as ablate_run
from mjx_gr00t.ablate import train as ablate_train
from mjx_gr00t.residual import AlphaSchedule
from mjx_gr00t.runner.metrics_log import read_metrics
from train import ablate_dr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 3
# 4 envs x 4 steps = 16 env steps per iteration and cell; 3 iterations.
TINY = [
    "--arms", "none,all", "--seeds", "0", "1", "--base", "zero", "--engine", "c", "--num-envs", "4",
    "--unroll-length", "4", "--num-minibatches", "2", "--update-epochs", "1", "--hidden", "16", "16",
    "--total-steps", str(16 * ITERATIONS), "--eval-episodes", "8",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("abl") / "out"
    summary = ablate_dr.main([*TINY, "--out", str(out)])
    return out, summary


@pytest.fixture(scope="module")
def built():
    args = ablate_dr.parse(TINY)
    env, grid, _, _ = ablate_run.build(args)
    return args, env, grid


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
                                         r"paper_yaw, friction, paper_mass, actuator_gain, backlash, latency, "
                                         r"estimate_xy_bias, .*, estimate_dropout, all"):
        ablate_dr.main([*TINY, "--arms", "none,frcition", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("flags, message", [
    (["--arms", "none,light"], r"--arms: arm\(s\) 'light' randomise only rendered images"),
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
    wide = ablate_run.build(ablate_dr.parse([*TINY, "--eval-width", "1.5"])).eval_env
    ranges = scene_task(wide).default_ranges
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
