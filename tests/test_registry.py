"""The scene registry: building scenes, and one-line errors that name the problem."""

import dataclasses

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import pytest

from mjx_gr00t import randomize
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.envs.paper_card import CardDRConfig, PaperCardConfig, PaperCardTask


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg, repr(msg)
    return msg


def test_scenes_and_make():
    assert "paper_card" in registry.scenes()
    assert registry.scenes() == sorted(registry.scenes())
    assert isinstance(registry.default_config("paper_card"), PaperCardConfig)
    env = registry.make("paper_card", PaperCardConfig(engine="c", num_envs=3, episode_length=7))
    assert isinstance(env, EpisodeEnv) and isinstance(env.task, PaperCardTask)
    assert env.episode_length == 7 and env.task.engine_name == "c"
    assert (env.observation_size, env.action_size) == (34, 6)


def test_unknown_scene_lists_valid_scenes():
    with pytest.raises(ValueError) as err:
        registry.make("paper_circle")
    msg = _one_line(err)
    assert "unknown scene" in msg and "'paper_circle'" in msg
    assert all(name in msg for name in registry.scenes())
    with pytest.raises(ValueError) as err:
        registry.default_config("paper_circle")
    assert "paper_card" in _one_line(err)


def test_register_twice_raises():
    with pytest.raises(ValueError) as err:
        registry.register("paper_card", lambda c: None, PaperCardConfig())
    assert "already registered" in _one_line(err)


@pytest.mark.parametrize("num_envs", [0, -4])
def test_num_envs_below_one(num_envs):
    with pytest.raises(ValueError) as err:
        PaperCardConfig(engine="c", num_envs=num_envs)
    msg = _one_line(err)
    assert "num_envs" in msg and str(num_envs) in msg


def test_num_envs_below_one_via_replace_is_caught_by_make():
    with pytest.raises(ValueError) as err:
        registry.make("paper_card", dataclasses.replace(PaperCardConfig(engine="c"), num_envs=0))
    assert "num_envs" in _one_line(err)


def test_inverted_dr_range():
    with pytest.raises(ValueError) as err:
        PaperCardConfig(engine="c", dr=CardDRConfig(paper_mass=randomize.Factor(1.1, 0.9)))
    msg = _one_line(err)
    assert "'paper_mass'" in msg and "inverted" in msg and "1.1" in msg and "0.9" in msg


def test_missing_xml(tmp_path):
    path = str(tmp_path / "missing.xml")
    with pytest.raises(FileNotFoundError) as err:
        PaperCardConfig(engine="c", xml_path=path)
    msg = _one_line(err)
    assert path in msg and "not found" in msg


@pytest.mark.parametrize("config", [CardDRConfig(), {"num_envs": 4}, 4])
def test_wrong_config_type(config):
    with pytest.raises(TypeError) as err:
        registry.make("paper_card", config)
    msg = _one_line(err)
    assert "PaperCardConfig" in msg and type(config).__name__ in msg


def test_unknown_engine():
    with pytest.raises(ValueError) as err:
        PaperCardConfig(engine="gpu")
    msg = _one_line(err)
    assert "'gpu'" in msg and all(name in msg for name in ("auto", "mjx", "c", "warp"))
