"""benchmarks.held_times reads a run's held-out curve and reports the yardstick's readings."""

import json
import os

import pytest

from benchmarks import held_times
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner import run_dir
from mjx_gr00t.runner.config import as_json, with_flat
from mjx_gr00t.runner.recipes import default_config

CURVE = [(0.0, 0.9, 0), (10.0, 0.5, 4096), (20.0, 0.96, 8192), (30.0, 0.97, 12288), (40.0, 0.95, 16384),
         (50.0, 0.80, 20480), (60.0, 0.99, 24576)]


def _run(tmp_path, curve=CURVE) -> str:
    out = str(tmp_path / "run")
    config = with_flat(default_config("ppo"), {"eval_every": 10, "eval_every_episodes": 128})
    run_dir.prepare_out(out, "ppo", as_json(config), resume=False, overwrite=False)
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:
        for t, s, n in curve:
            f.write(json.dumps({"env_steps": n, "time/wall_s": t, "eval/success_rate": s}) + "\n")
        f.write(json.dumps({"env_steps": 28672, "time/wall_s": 70.0, "rollout/success_rate": 1.0}) + "\n")
    return out


def test_readings_of_a_run(tmp_path) -> None:
    out = _run(tmp_path)
    record = held_times.main([out, "--targets", "0.95", "0.85", "--json", str(tmp_path / "t.json")])
    (run,) = record["runs"]
    assert (run["eval_every"], run["eval_every_episodes"], run["final_eval"]) == (10, 128, 0.99)
    at95 = run["targets"]["0.950"]
    assert at95["held_3_evals_s"] == 20.0 and at95["held_3_evals_env_steps"] == 8192
    assert at95["held_to_end_s"] == 60.0                    # the dip at 50 s resets the stricter reading
    assert at95["first_crossing_s (not held; reference only)"] == 20.0
    assert run["targets"]["0.850"]["held_3_evals_s"] == 20.0
    assert json.load(open(tmp_path / "t.json")) == record


def test_a_run_without_held_out_evaluations_is_one_line(tmp_path) -> None:
    out = _run(tmp_path, curve=[])
    with pytest.raises(UsageError, match="no held-out evaluations; train it with --eval-every"):
        held_times.main([out])
    with pytest.raises(SystemExit):
        held_times.main([str(tmp_path / "nothing")])
