"""benchmarks.throughput: a --quick run measures every figure and writes JSON + PNG; the warp
engine is measured on the CPU; bad flags get clear errors; an engine that cannot start is
recorded, not fatal; the compile counter sees recompiles."""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import importlib.util
import json
import re

import jax
import jax.numpy as jnp
import pytest

from benchmarks import throughput
from benchmarks.common import time_steady
from mjx_gr00t.errors import UsageError


def test_quick_run_measures_every_figure_and_writes_json_and_png(tmp_path):
    # fetch_reach: the scene that compiles fastest, with all four figures (SAC too). 3 envs: the
    # replay capacity must be rounded to a multiple of num_envs (400,000 is not one of 3).
    path = tmp_path / "tp.json"
    args = throughput.Args(quick=True, scenes="fetch_reach", engines="c", num_envs="3", json=str(path))
    throughput.main(args)

    report = json.loads(path.read_text())
    assert report["skipped"] == []
    records = {r["figure"]: r for r in report["records"]}
    assert sorted(records) == ["env", "env_policy", "train_ppo", "train_sac"]
    for figure, rec in records.items():
        assert (rec["scene"], rec["engine"], rec["num_envs"]) == ("fetch_reach", "c", 3)
        assert rec["policy_steps_per_s"] > 0, figure
        assert rec["physics_steps_per_s"] == pytest.approx(rec["policy_steps_per_s"] * 20)
        assert rec["compiles_in_timed_region"] == 0, f"{figure} recompiled while timed"
        assert rec["compile_s"] > 0 and rec["machine"]
    assert records["train_ppo"]["env_steps_per_call"] == 3 * 16  # num_envs x unroll length
    assert records["train_sac"]["env_steps_per_call"] == 3 * 8  # num_envs x steps per iteration
    assert records["train_sac"]["updates_per_call"] == 6  # utd 0.25, past warm-up
    assert records["train_sac"]["buffer_capacity"] % 3 == 0
    assert records["env"]["raw_rollout_physics_steps_per_s"] > 0
    assert records["env"]["reference_mj_step_per_s"] > 0

    png = tmp_path / "tp.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"scenes": "paper_sqare"}, "unknown paper_sqare; choose from fetch_pick_place, fetch_push"),
        ({"engines": "c,cuda"}, "unknown cuda; choose from mjx, c, warp"),
        ({"figures": "env,rollout"}, "unknown rollout; choose from env, env_policy"),
        ({"num_envs": "4,x"}, "comma-separated integers"),
        ({"num_envs": "0"}, "batch sizes >= 1"),
        ({"steps": 0}, "--steps and --min-calls must be >= 1"),
    ],
)
def test_bad_flags_give_a_clear_error(flags, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        throughput.plan(throughput.Args(**flags))


@pytest.fixture
def no_warp(monkeypatch):
    """warp-lang looks uninstalled (engine 'warp' checks importlib.util.find_spec first)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "warp" else real(name, *a, **k))


def test_an_engine_that_cannot_start_is_recorded_with_its_reason(tmp_path, no_warp):
    path = tmp_path / "tp.json"
    throughput.main(throughput.Args(quick=True, scenes="paper_card", engines="warp", json=str(path)))
    report = json.loads(path.read_text())
    assert report["records"] == []
    [skip] = report["skipped"]
    assert skip["engine"] == "warp" and "warp-lang" in skip["reason"]
    assert (tmp_path / "tp.png").exists()


@pytest.mark.skipif(importlib.util.find_spec("warp") is None, reason="warp-lang not installed (pip install -e '.[test]')")
def test_quick_warp_run_measures_the_env_on_the_cpu(tmp_path):
    """engine 'warp' (MuJoCo Warp on Warp's CPU device) through the benchmark's env figure (the
    PPO figures build on the same vmapped env step). Warp's kernels compile here unless cached."""
    path = tmp_path / "tp.json"
    throughput.main(throughput.Args(quick=True, scenes="paper_card", engines="warp", figures="env",
                                    json=str(path)))
    report = json.loads(path.read_text())
    assert report["skipped"] == []
    [rec] = report["records"]
    assert (rec["scene"], rec["engine"], rec["num_envs"], rec["figure"]) == ("paper_card", "warp", 4, "env")
    assert rec["policy_steps_per_s"] > 0 and rec["env_steps_per_call"] == 4 * 4  # quick: 4 steps a call
    assert rec["physics_steps_per_s"] == pytest.approx(rec["policy_steps_per_s"] * 12)
    assert rec["compiles_in_timed_region"] == 0


def test_time_steady_counts_a_recompile_in_the_timed_region():
    @jax.jit
    def stable(x):
        return x + 1.0

    assert time_steady(stable, jnp.zeros(3), 0.0)["compiles_in_timed_region"] == 0

    @jax.jit
    def widens(x):  # int32 in, float32 out: the first timed call sees a new input type
        return x.astype(jnp.float32) + 1.0

    assert time_steady(widens, jnp.zeros(3, jnp.int32), 0.0)["compiles_in_timed_region"] >= 1


def test_append_keeps_earlier_entries_of_the_same_machine_only(tmp_path, no_warp):
    path = tmp_path / "tp.json"
    args = throughput.Args(quick=True, scenes="fetch_reach", engines="warp", json=str(path), append=True)
    throughput.main(args)
    throughput.main(args)
    assert len(json.loads(path.read_text())["skipped"]) == 2

    path.write_text(json.dumps({"machine_tag": "elsewhere", "references": {}, "records": [], "skipped": []}))
    with pytest.raises(UsageError, match="measured on 'elsewhere'"):
        throughput.main(args)
