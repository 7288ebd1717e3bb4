"""Runs made before RunConfig (run.json with flat "args") still load and resume."""

import json
import shutil

import pytest

from mjx_gr00t.runner import run_dir
from mjx_gr00t.runner.legacy import config_from_flat, config_of_record
from mjx_gr00t.runner.metrics_log import read_metrics
from mjx_gr00t.runner.recipes import recipe_config, resolve

LEGACY_RUN = "tests/data/legacy_run_ppo"   # written by train.residual_ppo at b440122, stopped after 2 of 4 iterations


def test_old_default_flags_are_the_card_recipe():
    """The old trainers' defaults were the card scene's recipe (the paper task before the rig's twin,
    `paper_card` now)."""
    with open(f"{LEGACY_RUN}/run.json") as f:
        old = json.load(f)["args"]
    flags = {**old, "num_envs": 256, "unroll_length": 16, "num_minibatches": 8, "update_epochs": 2,
             "hidden": [256, 256], "total_steps": 3_000_000, "engine": "auto", "checkpoint_every": 20,
             "keep_checkpoints": 3, "stop_after": None, "out": None, "wandb": "offline"}
    assert config_from_flat("ppo", flags).identity() == resolve(recipe_config("paper_card/ik/ppo"), "ppo").identity()


def test_renamed_sac_flags_map_to_their_new_fields():
    config = config_from_flat("sac", {"hidden": [64, 64], "learning_rate": 1e-3, "obj_range": 0.1,
                                      "target_range": None, "scene": "fetch_pick_place", "base": "script"})
    assert config.algo.actor_hidden == config.algo.critic_hidden == (64, 64)
    assert config.algo.actor_learning_rate == config.algo.alpha_learning_rate == 1e-3
    assert config.scene.scene_options == ("obj_range=0.1",)


def test_a_legacy_run_resumes_to_the_end(tmp_path):
    from train import residual_ppo

    run = tmp_path / "legacy"
    shutil.copytree(LEGACY_RUN, run)
    # No end-of-run evaluation (nothing here checks it; it would compile a rollout): the export is
    # still written.
    summary = residual_ppo.main(["--resume", str(run), "--eval-episodes", "0"])
    assert summary["env_steps"] == 64
    assert [r["env_steps"] for r in read_metrics(str(run / "metrics.jsonl"))] == [16, 32, 48, 64]
    record = run_dir.read_run(str(run))
    assert "config" in record and "args" not in record, "run.json is rewritten in the new form"
    assert config_of_record(record).algo.policy_hidden == (16, 16)
    assert (run / "export" / "residual.json").exists()


def test_a_changed_legacy_run_says_what_differs(tmp_path, monkeypatch):
    from mjx_gr00t.runner import run as runner_run
    from train import residual_ppo

    def never(*_: object) -> None:
        raise AssertionError("a resume that will be refused builds (and compiles) nothing")

    monkeypatch.setattr(runner_run, "build_env", never)
    run = tmp_path / "legacy"
    shutil.copytree(LEGACY_RUN, run)
    with pytest.raises(SystemExit, match=r"algo.gamma: 0.98 -> 0.9"):
        residual_ppo.main(["--resume", str(run), "--gamma", "0.9"])
