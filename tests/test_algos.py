"""The algorithm registry."""

import dataclasses

import pytest

from mjx_gr00t.rl import algos
from mjx_gr00t.rl.algo import Algo


def test_every_algorithm_is_registered_with_every_part():
    assert algos.names() == ["fast_td3", "ppo", "sac"]
    for name in algos.names():
        algo = algos.get(name)
        assert algo.name == name and dataclasses.is_dataclass(algo.config_type)
        for field in dataclasses.fields(Algo):
            assert getattr(algo, field.name) is not None, field.name


def test_unknown_and_duplicate_names_fail_clearly():
    with pytest.raises(ValueError, match="registered: fast_td3, ppo, sac"):
        algos.get("td3")
    with pytest.raises(ValueError, match="already registered"):
        algos.register(algos.get("ppo"))
