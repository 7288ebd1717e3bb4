"""RunConfig: flat names, JSON round trip, what resume compares."""

import dataclasses

import pytest

from mjx_gr00t.rl.ppo_config import PPOConfig
from mjx_gr00t.rl.sac_config import SACConfig
from mjx_gr00t.runner.config import RunConfig, as_json, flat_paths, from_json, with_flat


@pytest.mark.parametrize("algo_type", [PPOConfig, SACConfig])
def test_flat_names_are_unique_across_sections(algo_type):
    names = []
    for cls in (algo_type,):
        names += [f.name for f in dataclasses.fields(cls)]
    paths = flat_paths(algo_type)
    sections = [f.name for f in dataclasses.fields(RunConfig)]
    assert len(paths) == len(set(paths))
    # Every field of every section has exactly one flat name: nothing is shadowed.
    from mjx_gr00t.runner import config as c
    expected = 1 + sum(len(dataclasses.fields(cls)) for cls in
                       (c.SceneSettings, c.ResidualSettings, c.RunSettings, algo_type, c.GrootSettings))
    assert len(paths) == expected, sections


def test_with_flat_sets_nested_fields_and_refuses_unknown_names():
    config = RunConfig(algo=PPOConfig())
    changed = with_flat(config, {"num_envs": 8, "alpha": 0.5, "eval_every": 3, "scene": "fetch_push",
                                 "groot_n_action_steps": 4, "seed": 7, "policy_hidden": [8, 8]})
    assert (changed.algo.num_envs, changed.residual.alpha, changed.run.eval_every) == (8, 0.5, 3)
    assert (changed.scene.scene, changed.groot.n_action_steps, changed.seed) == ("fetch_push", 4, 7)
    assert changed.algo.policy_hidden == (8, 8)
    with pytest.raises(KeyError):
        with_flat(config, {"no_such_field": 1})
    assert with_flat(config, {"no_such_field": 1}, strict=False) == config


def test_json_round_trip_and_fields_added_later_take_defaults():
    config = with_flat(RunConfig(algo=SACConfig()), {"her": True, "alpha": 0.25, "scene_options": ("obj_range=0.1",)})
    record = as_json(config)
    assert from_json(RunConfig(algo=SACConfig()), record) == config
    del record["residual"]["alpha"]          # as if alpha had been added after this run was saved
    record["algo"]["since_removed"] = 3      # and a field since removed
    assert from_json(RunConfig(algo=SACConfig()), record).residual.alpha == RunConfig(algo=SACConfig()).residual.alpha


def test_identity_leaves_out_how_and_where_it_runs():
    a = RunConfig(algo=PPOConfig())
    b = with_flat(a, {"eval_every": 5, "out": "x", "groot_device": "cuda", "groot_server": "tcp://h:1"})
    assert a.identity() == b.identity()
    assert a.identity() != with_flat(a, {"learning_rate": 1e-3}).identity()
    assert a.identity() != with_flat(a, {"seed": 1}).identity()
    assert "run" not in a.identity() and "device" not in a.identity()["groot"]
