"""benchmarks.bridge_latency: a tiny run times every part of a chunk query, the parts add up, the
extrapolated render is labelled as such, JSON + PNG are written; bad flags give clear errors."""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import json
import re

import pytest
import tyro

from benchmarks import bridge_latency as bl
from benchmarks.bridge_latency_report import OVERHEAD_PARTS, PARTS
from mjx_gr00t.errors import UsageError

PLAN_TOL_S = 0.005
"""The plan's own parts against a timer around the whole call: a few calls of perf_counter and the
input checks between them, plus scheduler noise on a busy 2-core machine."""


def _run(tmp_path) -> dict:
    args = bl.Args(num_envs=(2, 4), repeats=2, warmup=1, render_envs=2, out=str(tmp_path / "bl.json"))
    try:
        return bl.main(args)
    except UsageError as e:
        if "cannot render here" in e.message:
            pytest.skip(f"no rendering backend on this machine: {e.message}")
        raise


def test_tiny_run_times_every_part_and_the_parts_add_up(tmp_path) -> None:
    data = _run(tmp_path)
    assert json.loads((tmp_path / "bl.json").read_text()) == json.loads(json.dumps(data))
    assert data["machine_tag"] and data["machine"]["cpu"] and data["skipped"] == []
    assert set(data["notes"]) >= {*PARTS, "overhead"}
    recs = {r["num_envs"]: r for r in data["records"]}
    assert sorted(recs) == [2, 4]
    for n, rec in recs.items():
        assert set(rec["parts"]) == set(PARTS)
        for part, spread in rec["parts"].items():
            assert len(spread["samples_s"]) == 2, part
            assert all(s > 0 for s in spread["samples_s"]), f"{part} took no time at {n} envs"
            assert spread["min_s"] <= spread["median_s"] <= spread["max_s"]
        for i, total in enumerate(rec["total"]["samples_s"]):  # each query's parts sum to its total
            assert total == pytest.approx(sum(rec["parts"][p]["samples_s"][i] for p in PARTS), rel=1e-12)
            overhead = sum(rec["parts"][p]["samples_s"][i] for p in OVERHEAD_PARTS)
            assert rec["overhead"]["samples_s"][i] == pytest.approx(overhead, rel=1e-12)
        lo, hi = rec["overhead_pct_range"]
        assert 0 < lo <= rec["overhead_pct"] <= hi < 100
        assert rec["overhead_pct"] < rec["overhead_pct_without_render"] < 100
        # GrootBase.plan's own parts match a timer around the whole call.
        # Every call: the parts fit inside the outer timer. At least one call: nothing else is in it
        # (a single call may be preempted by another process between two timers).
        gaps = []
        for i, wall in enumerate(rec["plan_wall"]["samples_s"]):
            inside = sum(rec["parts"][p]["samples_s"][i] for p in ("to_torch", "model", "to_jax"))
            assert inside <= wall + 1e-6
            gaps.append(wall - inside)
        assert min(gaps) < PLAN_TOL_S, gaps
        assert rec["compiles_in_timed_region"] == 0, "the write-back recompiled while timed"
        assert rec["sub_batches"] == 1 and rec["amortised_s_per_env_step"] > 0
    # 2 envs: all drawn, measured; 4 envs: 2 drawn, the draw time scaled by 4 / 2 and labelled so.
    assert (recs[2]["render_envs_drawn"], recs[2]["render_extrapolated"]) == (2, False)
    assert (recs[4]["render_envs_drawn"], recs[4]["render_extrapolated"]) == (2, True)
    for rec in recs.values():
        assert rec["render_detail"]["render_to_jax_unaligned_s"]["median_s"] > 0
        assert isinstance(rec["unaligned_buffers_were_aligned"], bool) and rec["process_cpu_per_wall"] > 0
    detail = recs[4]["render_detail"]
    for i in range(2):
        draw, measured = detail["render_draw_s"]["samples_s"][i], detail["render_draw_measured_s"]["samples_s"][i]
        assert draw == pytest.approx(2 * measured)
        assert recs[4]["parts"]["render"]["samples_s"][i] == pytest.approx(
            draw + detail["render_to_jax_s"]["samples_s"][i])
    png = tmp_path / "bl.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"num_envs": (0,)}, "--num-envs needs batch sizes >= 1"),
        ({"num_envs": ()}, "--num-envs needs batch sizes >= 1"),
        ({"repeats": 0}, "--repeats must be >= 1"),
        ({"warmup": -1}, "--warmup must be >= 0"),
        ({"render_envs": -2}, "--render-envs must be >= 0 (0: draw every env)"),
        ({"max_batch": 0}, "--max-batch must be >= 1"),
        ({"n_action_steps": 17}, "--n-action-steps must be in 1..16"),
        ({"render_backend": "vulkan"}, "--render-backend 'vulkan': choose from auto, osmesa"),
        ({"device": "tpu"}, "--device must be auto, cpu, cuda or cuda:N"),
        ({"model": "/no/such/dir"}, "--model '/no/such/dir': '/no/such/dir' is neither a checkpoint"),
    ],
)
def test_bad_flags_give_a_clear_error(flags, message) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        bl.plan(bl.Args(**flags))


def test_help_explains_every_flag(capsys) -> None:
    with pytest.raises(SystemExit):
        tyro.cli(bl.Args, args=["-h"])
    text = re.sub(r"[\s│╭╮╰╯─]+", " ", capsys.readouterr().out)
    flags = [f"--{field.name.replace('_', '-')}" for field in dataclasses.fields(bl.Args)]
    for flag in flags:  # each flag is followed by words of help before its default
        block = re.split(rf" {re.escape(flag)}(?![\w-])", text, maxsplit=1)[1].split("(default:", 1)[0]
        assert len(re.findall(r"[a-z]{3,}", block)) >= 4, f"{flag} has no help text: {block!r}"
    assert "1024 4096 when JAX sees an accelerator" in text


def test_aligned_buffers_are_shared_with_jax() -> None:
    import jax.numpy as jnp
    import numpy as np

    from bridge.dlpack import aligned_empty

    a = aligned_empty((3, 224, 224, 3), np.uint8)
    assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.shape == (3, 224, 224, 3)
    a[...] = 7
    x = jnp.asarray(a)
    if x.devices().pop().platform == "cpu":  # XLA on the CPU takes aligned host memory as it is
        assert x.unsafe_buffer_pointer() == a.ctypes.data
    with pytest.raises(ValueError, match="power of two"):
        aligned_empty((2,), np.float32, alignment=48)


def test_default_sizes_follow_the_machine(monkeypatch) -> None:
    assert bl.plan(bl.Args()).sizes == (bl.GPU_SIZES if bl.accelerator_present() else bl.CPU_SIZES)
    monkeypatch.setattr(bl, "accelerator_present", lambda: True)
    assert bl.plan(bl.Args()).sizes == (1024, 4096)
    assert bl.plan(bl.Args(num_envs=(8,))).sizes == (8,)
