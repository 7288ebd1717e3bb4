"""The registry of learning algorithms the runner can drive.

    algos.get("ppo").init(config, env, key)
    algos.names()          # ['fast_td3', 'ppo', 'sac']

A new algorithm is one module that builds its `Algo` record (see ppo_algo.py) and one `register`
line below.
"""

from mjx_gr00t.rl import ppo_algo, sac_algo, td3_algo
from mjx_gr00t.rl.algo import Algo

_ALGOS: dict[str, Algo] = {}


def register(algo: Algo) -> None:
    """Adds `algo` under its name; ValueError if the name is taken."""
    if algo.name in _ALGOS:
        raise ValueError(f"algorithm {algo.name!r} is already registered")
    _ALGOS[algo.name] = algo


def names() -> list[str]:
    """Registered algorithm names, sorted."""
    return sorted(_ALGOS)


def get(name: str) -> Algo:
    """The Algo registered as `name`; ValueError naming the valid ones otherwise."""
    if name not in _ALGOS:
        raise ValueError(f"unknown algorithm {name!r}; registered: {', '.join(names())}")
    return _ALGOS[name]


register(ppo_algo.ALGO)
register(sac_algo.ALGO)
register(td3_algo.ALGO)
