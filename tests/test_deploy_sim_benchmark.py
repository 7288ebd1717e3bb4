"""benchmarks.deploy_sim: on a tiny trained run, the evaluation, the deployed loop and the latency sweep
run side by side and the record says whether the deployed success lies in the evaluation's interval."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import json

import pytest

from benchmarks import deploy_sim
from mjx_gr00t.errors import UsageError
from train import residual_ppo


@pytest.mark.slow
def test_a_tiny_run_side_by_side(tmp_path) -> None:
    run = tmp_path / "run"
    residual_ppo.main(["--total-steps", "512", "--num-envs", "8", "--eval-episodes", "4", "--out", str(run)])
    out = tmp_path / "deploy.json"
    record = deploy_sim.main(deploy_sim.Args(run=str(run), episodes=3, camera_episodes=0, json=str(out)))
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert record["evaluate"]["episodes"] == 3 and record["deploy_model_perception"]["episodes"] == 3
    assert set(record["deploy_command_latency_ms"]) == {"0", "33.3", "66.7"}
    lo, hi = record["evaluate"]["success_ci95"]
    assert record["deploy_within_evaluate_ci95"] == (lo <= record["deploy_model_perception"]["success_rate"] <= hi)
    assert record["deploy_model_perception"]["tick_ms"]["ticks"] > 0 and record["machine"]
    assert record["deploy_model_base_latency_50ms"]["episodes"] == 3 and record["deploy_camera_no_base_latency"] is None


def test_a_run_without_export_is_one_line(tmp_path) -> None:
    with pytest.raises(UsageError, match="has no export/"):
        deploy_sim.main(deploy_sim.Args(run=str(tmp_path)))
