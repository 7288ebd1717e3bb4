"""Export inputs shared by the tests of mjx_gr00t/export/ (importable: pytest puts tests/ on sys.path).

`reference_cases` are fixed numpy inputs; the export code of commit 18ca3b7 (before mjx_gr00t/export/
was a package) wrote them into tests/data/export_v1/, so a test can prove today's writer gives the same
bytes. `build_exported` trains nothing: a random flax GaussianPolicy and normaliser, exported.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from brax.training.acme import running_statistics

from mjx_gr00t.export.spec import PAPER_SQUARE_OBS_LAYOUT, ExportSpec
from mjx_gr00t.export.write import write_export
from mjx_gr00t.rl.networks import GaussianPolicy, get_activation
from mjx_gr00t.rl.ppo_config import PPOConfig

REFERENCE_DIR = os.path.join(os.path.dirname(__file__), "data", "export_v1")
"""One sub-directory per case of `reference_cases`, holding residual.json and residual.safetensors."""
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
GRIPPER_RANGE = (-0.174533, 1.7453292)
JOINT_RANGES = ((-1.92, 1.92), (-1.75, 1.75), (-1.69, 1.69), (-1.66, 1.66), (-2.74, 2.84), GRIPPER_RANGE)
GROOT_KWARGS: dict[str, Any] = dict(
    model="/checkpoints/tiny", data_config="so100_dualcam", embodiment_tag="new_embodiment", n_action_steps=6,
    video=(("video.image_cam_0", "front"), ("video.image_cam_1", "wrist")), state=(("state.arm_0", 6),),
    action=(("action.arm_0", 6),), key_map=(("video.front", "video.image_cam_0"),), key_map_name="cam01_arm0",
    task="Push the card into the square.", metadata_sha256="ab" * 32,
)
"""GrootExport(**GROOT_KWARGS): the GR00T record of the 'ppo_groot' case."""
OBS_DIM, ACT_DIM, HIDDEN = 40, 6, (64, 64)


def _mlp(rng: np.random.Generator, sizes: tuple[int, ...]) -> dict[str, dict[str, np.ndarray]]:
    """{'hidden_<i>' | 'head': {'kernel': [in, out], 'bias': [out]}} float32, random."""
    names = [f"hidden_{i}" for i in range(len(sizes) - 2)] + ["head"]
    return {name: {"kernel": rng.normal(0.0, 0.5, (n_in, n_out)).astype(np.float32),
                   "bias": rng.normal(0.0, 0.1, n_out).astype(np.float32)}
            for name, n_in, n_out in zip(names, sizes[:-1], sizes[1:], strict=True)}


def reference_cases() -> dict[str, dict[str, Any]]:
    """Case name -> {'params', 'normalizer', 'spec' (ExportSpec kwargs, with groot=None), 'sac_action_size'}.

    'ppo_groot': a PPO GaussianPolicy (swish, hidden (16, 8), normalised and clipped obs [40]) on a GR00T
    base (set `spec['groot'] = GrootExport(**GROOT_KWARGS)`). 'sac_tanh': a SAC actor (relu, hidden (8,),
    tanh squash, no normaliser, two joints without a gripper), exported via `sac_actor_as_mean_params`.
    """
    rng = np.random.default_rng(14)
    obs_mean = rng.normal(0.0, 1.0, 40).astype(np.float32)
    obs_std = np.exp(rng.uniform(-2.0, 1.0, 40)).astype(np.float32)
    normalizer = running_statistics.RunningStatisticsState(
        mean=obs_mean, std=obs_std, count=np.float32(768.0), summed_variance=obs_std**2 * 768.0)
    ppo_params = {"params": {"mean": _mlp(rng, (40, 16, 8, 6)), "log_std": rng.normal(0, 0.3, 6).astype(np.float32)}}
    sac_params = {"params": {"net": _mlp(rng, (7, 8, 4))}}
    return {
        "ppo_groot": dict(params=ppo_params, normalizer=normalizer, sac_action_size=None, spec=dict(
            scene="paper_square", base="groot", algo="ppo", hidden=(16, 8), activation="swish",
            normalize_obs=True, obs_clip=5.0, obs_layout=PAPER_SQUARE_OBS_LAYOUT, alpha=0.3, act_scale=0.02,
            joint_names=JOINTS, joint_ranges=JOINT_RANGES, groot=None)),
        "sac_tanh": dict(params=sac_params, normalizer=None, sac_action_size=2, spec=dict(
            scene="fetch_reach", base="zero", algo="sac", hidden=(8,), activation="relu",
            normalize_obs=False, obs_clip=None, obs_layout=(("obs", 5), ("base_action", 2)), alpha=1.0,
            act_scale=0.05, joint_names=("x", "y"), joint_ranges=((-1.0, 1.0), (-0.5, 2.0)), squash="tanh")),
    }


@dataclasses.dataclass(frozen=True)
class Exported:
    """A policy, its normaliser and config, and the directory it was exported to."""

    policy: GaussianPolicy
    params: dict
    normalizer: running_statistics.RunningStatisticsState
    config: PPOConfig
    spec: ExportSpec
    path: str


def paper_spec(activation: str) -> ExportSpec:
    """The spec of a PPO residual on the paper task (obs [40], 6 joints, hidden (64, 64))."""
    return ExportSpec(
        scene="paper_square", base="ik", algo="ppo", hidden=HIDDEN, activation=activation,
        normalize_obs=True, obs_clip=5.0, obs_layout=PAPER_SQUARE_OBS_LAYOUT, alpha=0.3,
        act_scale=0.02, joint_names=JOINTS, joint_ranges=JOINT_RANGES,
    )


def build_exported(tmp_path: str | os.PathLike[str], activation: str, **spec_changes: Any) -> Exported:
    """A random GaussianPolicy (non-zero head) and a normaliser fitted to 768 random obs, exported to
    tmp_path/export with `paper_spec(activation)` changed by `spec_changes`."""
    key_init, key_data = jax.random.split(jax.random.PRNGKey(0))
    policy = GaussianPolicy(ACT_DIM, HIDDEN, get_activation(activation), zero_init_head=False)
    params = policy.init(key_init, jnp.zeros((OBS_DIM,)))
    k_scale, k_loc, k_x = jax.random.split(key_data, 3)
    scale = jnp.exp(jax.random.uniform(k_scale, (OBS_DIM,), minval=-2.0, maxval=1.0))
    loc = jax.random.normal(k_loc, (OBS_DIM,))
    normalizer = running_statistics.init_state(jnp.zeros((OBS_DIM,)))
    for k in jax.random.split(k_x, 3):
        normalizer = running_statistics.update(normalizer, loc + scale * jax.random.normal(k, (256, OBS_DIM)))
    config = PPOConfig(policy_hidden=HIDDEN, activation=activation, normalize_obs=True, obs_clip=5.0)
    spec = dataclasses.replace(paper_spec(activation), **spec_changes)
    path = write_export(os.path.join(tmp_path, "export"), params, normalizer, spec)
    return Exported(policy, params, normalizer, config, spec, path)
