"""benchmarks.paper_estimator: a small run writes its record (the machine named), and bad flags give
one clear line."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import json

import pytest

from benchmarks import paper_estimator
from mjx_gr00t.errors import UsageError


def test_a_small_run_writes_its_record(tmp_path) -> None:
    path, png = tmp_path / "estimator.json", tmp_path / "errors.png"
    args = paper_estimator.Args(samples=8, states_per_camera=4, json=str(path), plot=str(png))
    try:
        record = paper_estimator.main(args)
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    assert json.loads(path.read_text()) == json.loads(json.dumps(record))
    stats = record["all"]
    assert stats["samples"] == 8 and 0.0 <= stats["dropout_rate"] <= 1.0
    assert sum(record["by_region"][r]["samples"] for r in paper_estimator.REGIONS) == 8
    assert sum(s["samples"] for s in record["by_occlusion"].values()) == 8
    assert len(record["camera_draws"]) == 2 and record["bias_and_noise"]["camera_draws"] <= 2
    if stats["estimates"]:
        # the image-side DR moves the camera by <= 5 mm and 1 deg, and fovy by <= 2 deg
        assert stats["centre_error_m"]["p50"] < 0.03 and stats["yaw_error_rad"]["p50"] < 0.05
        assert set(stats["bias"]) == set(stats["std"]) == {"x_m", "y_m", "yaw_rad"}
    assert record["machine"] and record["machine_tag"]
    assert "--samples 8" in record["command"] and "--states-per-camera 4" in record["command"]
    assert len(record["errors"]) == 8 and len(record["arm_hides_part"]) == 8
    assert sum(row[0] is None for row in record["errors"]) == round(8 * stats["dropout_rate"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_no_image_dr_is_nearly_exact() -> None:
    """With the rendered camera and lights nominal, the sheet's fit through the nominal camera is
    within 2 mm; placing it against the tape adds the tape fit's own error (its scale, quantised by
    3 mm pixels, moves the start pose 25 cm away by up to a few mm)."""
    args = paper_estimator.Args(samples=4, states_per_camera=4, arm_jitter=0.0, camera_pos_jitter=0.0,
                                camera_angle_jitter=0.0, fovy_jitter=0.0, light_jitter=0.0)
    try:
        record = paper_estimator.main(args)
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    nominal, stats = record["nominal_camera_only"]["all"], record["all"]
    assert nominal["dropout_rate"] == 0.0 and stats["dropout_rate"] == 0.0
    assert nominal["centre_error_m"]["max"] < 0.002 and nominal["yaw_error_rad"]["max"] < 0.01
    assert stats["centre_error_m"]["max"] < 0.005 and stats["yaw_error_rad"]["max"] < 0.01


@pytest.mark.parametrize("args, message", [
    (paper_estimator.Args(samples=0), "--samples must be >= 1"),
    (paper_estimator.Args(states_per_camera=0), "--states-per-camera must be >= 1"),
    (paper_estimator.Args(fovy_jitter=-1.0), "--fovy-jitter must be >= 0"),
    (paper_estimator.Args(light_jitter=1.0), "--light-jitter must be < 1"),
    (paper_estimator.Args(json="/nonexistent-dir/e.json"), "--json .* its directory does not exist"),
    (paper_estimator.Args(plot="/nonexistent-dir/e.png"), "--plot .* its directory does not exist"),
])
def test_bad_flags_give_one_clear_line(args: paper_estimator.Args, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        paper_estimator.main(args)
