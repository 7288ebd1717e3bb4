"""Runs made before RunConfig: their run.json holds flat CLI args ({"algo", "args"}) and their
checkpoints flat flags. They still resume, evaluate and export: the flags are read into a RunConfig.

Flags renamed since: --hidden set both networks' widths, SAC's --learning-rate all three learning
rates, and --obj-range / --target-range are now --scene-options entries.

Scene renamed since: runs written before the paper rig's twin (run.json and checkpoints without
"scene_revision" >= 2) named the card scene `paper_square`; it is `paper_card` now, and such runs
load there, with the card's recipe as the defaults of fields they lack.
"""

from typing import Any

from mjx_gr00t.runner.config import SCENE_REVISION, RunConfig, from_json, with_flat
from mjx_gr00t.runner.recipes import default_config, recipe_config, resolve

_BEFORE_TWIN: dict[str, str] = {"paper_square": "paper_card"}

_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "ppo": {"hidden": ("policy_hidden", "value_hidden")},
    "sac": {"hidden": ("actor_hidden", "critic_hidden"),
            "learning_rate": ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate")},
}
_SCENE_OPTIONS: tuple[str, ...] = ("obj_range", "target_range")


def config_from_flat(algo: str, flags: dict[str, Any]) -> RunConfig:
    """The resolved RunConfig of a pre-RunConfig run's flat `flags` (run.json "args", or a
    checkpoint's config). Flags no field matches any more are dropped; fields they lack keep the
    defaults of the algorithm's default recipe, which the old trainers' defaults were."""
    flat = {k: v for k, v in flags.items() if k not in _SCENE_OPTIONS and k != "algo"}
    if "scene" in flat:
        flat["scene"] = _BEFORE_TWIN.get(flat["scene"], flat["scene"])
    options = tuple(f"{k}={flags[k]!r}" for k in _SCENE_OPTIONS if flags.get(k) is not None)
    config = with_flat(_defaults(algo, flat.get("scene")), flat, aliases=_ALIASES.get(algo, {}), strict=False)
    if options:
        config = with_flat(config, {"scene_options": options})
    return resolve(config, algo)


def config_of_record(record: dict[str, Any]) -> RunConfig:
    """The resolved RunConfig saved in a run.json record, old ({"args"}) or new ({"config"})."""
    if "config" in record:
        saved = _renamed(record["config"], record.get("scene_revision", 1))
        return from_json(_defaults(record["algo"], saved.get("scene", {}).get("scene")), saved)
    return config_from_flat(record["algo"], record["args"])


def identity_of_checkpoint(algo: str, saved: dict[str, Any]) -> dict[str, Any]:
    """The identity (`RunConfig.identity()`) a checkpoint's saved config stands for: fields it lacks
    (added since) at the defaults of the algorithm's default recipe, fields since removed dropped;
    a checkpoint written before RunConfig holds flat flags."""
    if "identity" not in saved:
        return config_from_flat(saved.get("algo", algo), saved).identity()
    identity = _renamed(saved["identity"], saved.get("scene_revision", 1))
    return from_json(_defaults(algo, identity.get("scene", {}).get("scene")), {**identity, "run": {}}).identity()


def _renamed(config: dict[str, Any], revision: int) -> dict[str, Any]:
    """A saved nested config with a pre-twin scene name mapped to today's."""
    scene = config.get("scene", {})
    if revision >= SCENE_REVISION or scene.get("scene") not in _BEFORE_TWIN:
        return config
    return {**config, "scene": {**scene, "scene": _BEFORE_TWIN[scene["scene"]]}}


def _defaults(algo: str, scene: str | None) -> RunConfig:
    """The config a saved run's missing fields come from: the card's recipe for card runs, else the
    algorithm's default recipe."""
    if scene == "paper_card" and algo == "ppo":
        return recipe_config("paper_card/ik/ppo")
    return default_config(algo)
