"""benchmarks.gpu (gpu_check.sh): --smoke runs every section on the CPU and writes the JSON a GPU
run writes, so the script cannot rot; without a GPU and without --smoke it says so in one line and
exits non-zero; a section the time left cannot hold is recorded as skipped for time; bad flags get
one line."""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import json
import os
import subprocess
import sys
import time

import jax
import pytest

from benchmarks import gpu
from mjx_gr00t.errors import UsageError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "benchmarks", "gpu_check.sh")
CPU_ONLY = {d.platform for d in jax.devices()} == {"cpu"}


def _script(*flags: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", SCRIPT, *flags], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=REPO)


@pytest.mark.skipif(not CPU_ONLY, reason="checks the refusal on a machine without a GPU")
def test_without_a_gpu_it_says_so_in_one_line_and_exits_nonzero(tmp_path):
    out = tmp_path / "gpu.json"
    done = _script("--out", str(out), timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: gpu_check: no GPU visible to JAX (devices: cpu); run on a GPU machine, or pass --smoke to "
        "exercise the code on the CPU")
    assert not out.exists()


def test_smoke_runs_every_section_and_writes_one_json(tmp_path):
    out = tmp_path / "gpu.json"
    # A deadline no busy CI machine reaches: every section must run here, none skipped for time.
    start = time.monotonic()
    done = _script("--smoke", "--out", str(out), "--deadline-s", "400", timeout=480)
    wall = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text())

    assert data["smoke"] is True and data["smoke_notes"]["engines"]
    assert data["device"]["device_kind"] and data["device"]["platform"]
    assert data["versions"]["jax"] == jax.__version__ and data["machine_tag"]
    assert data["deadline"]["hit"] is False and 0 < data["wall_s"] <= wall
    sections = data["sections"]
    assert list(sections) == ["bridge", "render", "time_to_target", "throughput"]
    for name, sec in sections.items():
        assert sec["status"] in ("ok", "skipped"), (name, sec["status"], sec.get("reason"))
        assert sec["status"] == "ok" or sec["reason"], f"{name} skipped without saying why"
    # The smoke's own engine (c) runs anywhere; the bridge on a CPU-only machine runs on CPU torch
    # (with a GPU it needs a CUDA torch, else it is skipped and says so).
    must_run = ("throughput", "time_to_target", "bridge") if CPU_ONLY else ("throughput", "time_to_target")
    assert all(sections[name]["status"] == "ok" for name in must_run), sections

    records = {(r["engine"], r["figure"]): r for r in sections["throughput"]["records"]}
    assert sorted(records) == [("c", "env"), ("c", "train_ppo")]
    for rec in records.values():
        assert rec["num_envs"] == 8 and rec["env_steps_per_s"] > 0
        assert rec["physics_steps_per_s"] == pytest.approx(rec["env_steps_per_s"] * rec["substeps"])
        assert rec["compiles_in_timed_region"] == 0

    ttt = sections["time_to_target"]
    curve = ttt["curve"]
    assert len(curve) >= 2 and curve[0]["train_s"] == 0.0 and curve[-1]["train_s"] == ttt["train_clock_s"]
    assert [c["train_s"] for c in curve] == sorted(c["train_s"] for c in curve)
    assert all(0.0 <= c["success"] <= 1.0 for c in curve) and ttt["iterations"] >= 1
    assert ttt["result"]["target"] == ttt["target"] == 0.8 and "held_s" in ttt["result"]
    assert ttt["reached"] == (ttt["result"]["held_s"] is not None)
    assert ttt["stopped_because"] in ("cap", "total_steps") and ttt["compiles_while_training"] == 0

    if sections["bridge"]["status"] == "ok":
        dlpack = sections["bridge"]["dlpack"]
        assert dlpack["all_pointers_equal"]
        assert dlpack["jax_to_torch"]["jax_ptr"] == dlpack["jax_to_torch"]["torch_ptr"]
        query = sections["bridge"]["query"]
        assert query["chunk"]["shape"] == [8, 16, 6] and query["chunk"]["finite"] and query["median_s"] > 0

    render = sections["render"]
    if render["status"] == "ok":
        assert render["frames_per_s"] > 0 and render["images"]["shape"] == [8, 224, 224, 3]
        assert render["images"]["pixel_std"] > 0


def test_a_section_the_time_left_cannot_hold_is_skipped_for_time(tmp_path):
    out = tmp_path / "gpu.json"
    data = gpu.run(gpu.Args(smoke=True, out=str(out), deadline_s=1.0), start=time.monotonic() - 2.0,
                   hard_exit=False)
    assert json.loads(out.read_text())["sections"] == data["sections"]
    for sec in data["sections"].values():
        assert sec["status"] == "skipped" and sec["reason"].startswith("skipped for time"), sec


def test_a_failing_section_records_its_error_and_the_run_goes_on(tmp_path):
    path = tmp_path / "gpu.json"
    sections = {name: {"status": "pending"} for name in gpu.SECTIONS}
    report = gpu.Report(str(path), {"sections": sections}, time.monotonic())
    plan = gpu.plan(gpu.Args(smoke=True))
    gpu.run_section(gpu.Section("render", report, plan, time.monotonic() + 60), lambda sec: [][0])
    gpu.run_section(gpu.Section("bridge", report, plan, time.monotonic() + 60), lambda sec: None)
    data = json.loads(path.read_text())["sections"]
    assert data["render"]["status"] == "error"
    assert data["render"]["reason"] == "IndexError: list index out of range" and data["render"]["traceback"]
    assert data["bridge"]["status"] == "ok" and data["bridge"]["wall_s"] >= 0


def test_the_hard_deadline_writes_what_was_measured_and_names_the_work_in_flight(tmp_path):
    path = tmp_path / "gpu.json"
    sections = {"bridge": {"status": "ok", "query": {"median_s": 0.01}},
                "render": {"status": "running", "started_at_s": 1.0},
                "time_to_target": {"status": "pending"}, "throughput": {"status": "pending"}}
    report = gpu.Report(str(path), {"deadline": {"hit": False}, "sections": sections}, time.monotonic() - 3.0)
    gpu.stop_at_hard_deadline(report, "render: first call (warp, compiles)")
    data = json.loads(path.read_text())
    assert data["deadline"]["hit"] is True
    assert data["sections"]["bridge"] == {"status": "ok", "query": {"median_s": 0.01}}
    render = data["sections"]["render"]
    assert render["status"] == "skipped"  # nothing measured yet; "partial" when it had records
    assert render["reason"] == ("stopped for time at the hard deadline while running render: first call "
                                "(warp, compiles)")
    assert 1.5 < render["wall_s"] < 60
    for name in ("time_to_target", "throughput"):
        assert data["sections"][name] == {"status": "skipped", "reason": "skipped for time: the hard deadline passed"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"num_envs": (0,)}, "env counts must be >= 1"),
        ({"ttt_target": 1.5}, "--ttt-target must be in (0, 1]"),
        ({"ttt_cap_s": 0.0}, "must be > 0"),
        ({"sections": ()}, "--sections needs at least one section"),
    ],
)
def test_bad_flags_give_one_clear_line(flags, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("]", r"\]")):
        gpu.plan(gpu.Args(smoke=True, **flags))
