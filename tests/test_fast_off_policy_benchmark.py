"""benchmarks.fast_off_policy on tiny sizes: both learners timed side by side, a curve per ratio read
back from its run's held-out evaluations, the record and plot written."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import json

import pytest

from benchmarks import fast_off_policy


def test_quick_run_records_costs_and_curves(tmp_path):
    path = tmp_path / "fop.json"
    record = fast_off_policy.main([
        "--scene", "fetch_reach", "--ratios", "4", "8", "--minutes", "0.002", "--eval-every", "1",
        "--cost-seconds", "0.1", "--quick", "--out-dir", str(tmp_path / "runs"), "--json", str(path)])
    costs = {(c["algo"], c["samples_per_env_step"]): c for c in record["cost"]}
    # SAC at the quick sizes: 16 envs x 8 steps, utd 0.25 -> 32 updates of 64 = 16 samples per env step.
    assert set(costs) == {("sac", 16.0), ("fast_td3", 4.0), ("fast_td3", 8.0)}
    for c in costs.values():
        assert c["env_steps_per_s"] > 0 and c["compiles_in_timed_region"] == 0
    assert costs["fast_td3", 4.0]["updates_per_iteration"] == 1  # 16 envs x 4 / batch 64
    assert [c["ratio"] for c in record["curves"]] == [4, 8]
    for c in record["curves"]:
        assert c["curve"][0]["env_steps"] == 0 and c["curve"][-1]["env_steps"] > 0  # starts at the initial policy
        assert 0.0 <= c["final_success"] <= 1.0 and c["time_to_target"]["target"] == 0.9
    assert json.loads(path.read_text())["scene"] == "fetch_reach"
    assert (tmp_path / "fop.png").stat().st_size > 0


def test_a_ratio_that_is_no_whole_number_of_updates_is_refused():
    with pytest.raises(SystemExit, match="not a whole number of updates"):
        fast_off_policy.main(["--scene", "fetch_reach", "--ratios", "3", "--quick", "--skip-curves",
                              "--cost-seconds", "0.1", "--json", "/dev/null"])
