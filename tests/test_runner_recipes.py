"""Every named recipe builds its config, resolves, and builds its env."""

import pytest

from mjx_gr00t.errors import UsageError
from mjx_gr00t.rl import algos
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.config import with_flat
from mjx_gr00t.runner.recipes import default_config, recipe_config, recipes, resolve, total_iterations


@pytest.mark.parametrize("name", sorted(recipes()))
def test_every_recipe_builds(name):
    recipe = recipes()[name]
    config = resolve(recipe_config(name), recipe.algo)
    scene, base, algo = name.split("/")[:3]
    assert (config.scene.scene, config.scene.base, algo) == (scene, base, recipe.algo)
    assert isinstance(config.algo, algos.get(recipe.algo).config_type)
    assert recipe.result, "a recipe says what it measured"
    small = resolve(with_flat(config, {"num_envs": 4, "buffer_capacity": 4096} if algo == "sac" else {"num_envs": 4}),
                    recipe.algo)
    env = build_env(small)
    assert env.action_size > 0


def test_defaults_are_the_readme_runs():
    ppo = resolve(default_config("ppo"), "ppo")
    assert (ppo.scene.scene, ppo.scene.base, ppo.algo.unroll_length, ppo.algo.learning_rate) == (
        "paper_square", "ik", 16, 6e-4)
    assert ppo.algo.total_iterations == total_iterations(ppo, "ppo") == 489   # 2M steps / 4096 (the twin)
    sac = resolve(default_config("sac"), "sac")
    assert (sac.scene.scene, sac.scene.base, sac.algo.her, sac.algo.num_envs) == ("fetch_push", "zero", True, 32)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(UsageError, match="fetch_pick_place/script/sac"):
        recipe_config("nope/zero/ppo")


def test_the_twin_recipe_and_the_trainer_help_quote_the_recorded_run():
    """The figures `-h` and `--recipe list` print are the ones in the results file they cite."""
    import json
    import os

    from mjx_gr00t.envs.recipes import PAPER_SQUARE

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "benchmarks", "results", "residual_ppo_paper_square_twin_cpu2.json")) as f:
        robot = json.load(f)["robot"]
    base, residual = (f"{100 * robot[k]['success_rate']:.1f} %" for k in ("base", "residual"))
    with open(os.path.join(root, "train", "residual_ppo.py")) as f:
        helptext = f.read()
    for text in (PAPER_SQUARE["ik/ppo"].result, helptext):
        assert f"{base} -> {residual}" in text or (f"alone succeeds in {base}" in text and f"residual in {residual}" in text)
