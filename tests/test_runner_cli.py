"""The trainers' CLI: recipes, resume defaults, clear errors."""

import pytest

from mjx_gr00t.runner.cli import parse
from mjx_gr00t.runner.recipes import default_config, recipe_config


def test_no_flags_is_the_default_recipe_and_flags_win():
    assert parse("ppo", []) == default_config("ppo")
    config = parse("sac", ["--recipe", "fetch_pick_place/script/sac", "--seed", "3", "--groot.task", "x"])
    assert config.seed == 3 and config.groot.task == "x"
    assert config.algo == recipe_config("fetch_pick_place/script/sac").algo


def test_recipe_of_another_algorithm_and_bad_values_are_one_line(capsys):
    with pytest.raises(SystemExit, match="run it with train.residual_sac"):
        parse("ppo", ["--recipe", "fetch_push/zero/sac"])
    with pytest.raises(SystemExit) as exit_:
        parse("ppo", ["--num-minibatches", "7"])   # PPOConfig refuses it while tyro builds it
    assert exit_.value.code != 0 and "num_minibatches = 7" in " ".join(capsys.readouterr().err.split())
    with pytest.raises(SystemExit, match="--recipe starts a new run"):
        parse("ppo", ["--resume", "tests/data/legacy_run_ppo", "--recipe", "paper_square/ik/ppo"])


def test_recipe_list_prints_each_recipe_with_its_result(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse("sac", ["--recipe", "list"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "fetch_pick_place/script/sac" in out and "99.2 %" in out and "paper_square/ik/ppo" not in out


def test_resume_takes_the_saved_config_as_defaults():
    config = parse("ppo", ["--resume", "tests/data/legacy_run_ppo"])
    assert config.algo.num_envs == 4 and config.algo.policy_hidden == (16, 16)
    assert config.run.resume == "tests/data/legacy_run_ppo" and config.run.stop_after is None
    with pytest.raises(SystemExit, match="holds a ppo run"):
        parse("sac", ["--resume", "tests/data/legacy_run_ppo"])
