"""In a several-host run only process 0 writes run files and logs; the others write nothing.

The other processes are simulated by making `is_main_process` false in the modules that write.
"""

import os

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import pytest

from mjx_gr00t.runner import metrics_log, run_dir


@pytest.fixture
def not_main(monkeypatch):
    monkeypatch.setattr(metrics_log, "is_main_process", lambda: False)
    monkeypatch.setattr(run_dir, "is_main_process", lambda: False)


def test_process_0_writes_run_json_and_metrics(tmp_path) -> None:
    out = str(tmp_path / "run")
    run_dir.prepare_out(out, "ppo", {"scene": "paper_square"}, resume=False, overwrite=False)
    with metrics_log.MetricsLog(out, "disabled", "p", {}, total_steps=2) as log:
        log.write(1, {"rollout/success_rate": 0.5})
    assert os.path.exists(os.path.join(out, run_dir.RUN_FILE))
    assert len(metrics_log.read_metrics(os.path.join(out, metrics_log.METRICS_FILE))) == 1


def test_other_processes_write_nothing(tmp_path, not_main) -> None:
    out = str(tmp_path / "run")
    run_dir.prepare_out(out, "ppo", {"scene": "paper_square"}, resume=False, overwrite=False)
    assert not os.path.exists(out)
    os.makedirs(out)
    with metrics_log.MetricsLog(out, "offline", "p", {}, total_steps=2) as log:
        record = log.write(1, {"rollout/success_rate": 0.5})
    assert record["rollout/success_rate"] == 0.5
    assert os.listdir(out) == []   # no metrics.jsonl, no wandb directory
