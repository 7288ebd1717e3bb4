"""What an export says about a policy besides its tensors (no JAX: trainers, the runner's config and
tests build it without loading the network code).

    spec = ExportSpec(scene="paper_square", base="ik", algo="ppo", hidden=(64, 64), activation="swish",
                      normalize_obs=True, obs_clip=5.0, obs_layout=PAPER_SQUARE_OBS_LAYOUT, alpha=0.3,
                      act_scale=0.02, joint_names=JOINTS, joint_ranges=RANGES)

`mjx_gr00t.export.write.write_export(DIR, params, normalizer, spec)` writes it into residual.json.
"""

import dataclasses

from mjx_gr00t.export.groot import GrootExport

ALGOS: tuple[str, ...] = ("ppo", "sac", "fast_td3")
ACTIVATION_FORMULAS: dict[str, str] = {
    "swish": "x * sigmoid(x)  (torch.nn.SiLU)",
    "tanh": "tanh(x)",
    "relu": "max(x, 0)",
    "elu": "x if x > 0 else exp(x) - 1  (torch.nn.ELU(alpha=1))",
}
"""The activations an export can name (the keys of mjx_gr00t.rl.networks.ACTIVATIONS), with the formula
residual.json spells out for each."""
PAPER_SQUARE_OBS_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 6), ("joint_vel", 6), ("tool_pos", 3), ("tool_quat", 4), ("paper_pos", 3),
    ("paper_quat", 4), ("paper_corners_xy", 8), ("base_action", 6),
)
"""The paper task's observation (see envs/paper_square.py) followed by the 6-D base action."""
DEFAULT_UNITS: str = (
    "sim: rad. LeRobot: degrees for the arm joints, 0..100 for the gripper "
    "(0 = lower sim limit, closed; 100 = upper sim limit, fully open)."
)


@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """What the exported files must say about a policy besides its tensors."""

    scene: str
    """Registered scene name, e.g. 'paper_square'."""
    base: str
    """Name of the base policy the residual was trained on."""
    algo: str
    """One of ALGOS: 'ppo', 'sac' or 'fast_td3'."""
    hidden: tuple[int, ...]
    """Hidden widths of the mean MLP; must match the params."""
    activation: str
    """Hidden activation, one of ACTIVATION_FORMULAS (= networks.ACTIVATIONS)."""
    normalize_obs: bool
    """Whether the policy saw normalised observations."""
    obs_clip: float | None
    """Clip of the normalised observation (None: no clip); ignored without normalize_obs."""
    obs_layout: tuple[tuple[str, int], ...]
    """(name, size) blocks of the policy's input in order; sizes sum to obs_dim. With an asymmetric
    critic: the actor's entries alone (`EnvSpec.actor_layout`), the critic-only ones left out."""
    alpha: float
    """Residual scale used at deployment (the schedule's final value)."""
    act_scale: float
    """Radians per unit of normalised action."""
    joint_names: tuple[str, ...]
    """One per action dimension; the joint named 'gripper' uses the 0..100 LeRobot unit."""
    joint_ranges: tuple[tuple[float, float], ...]
    """(lo, hi) sim joint range in rad, one per joint."""
    units: str = DEFAULT_UNITS
    """Free-text description of the unit conventions."""
    squash: str = "clip"
    """How the head's output becomes the residual: 'clip' to [-1, 1] (PPO's Gaussian mean) or
    'tanh' (SAC's squashed Gaussian, the fast TD3 learner's tanh actor)."""
    obs_mode: str = ""
    """The scene's observation mode where it has several (paper task: 'robot', what a real SO-101
    with LeRobot and the top camera gives; or 'privileged'); written as residual.json's "obs_mode"
    when set."""
    base_config: tuple[tuple[str, object], ...] = ()
    """The scripted base's settings as (field, value) pairs (e.g. the IK drag base's
    `RigDragConfig`), written as residual.json's "base_config" when set, so a deployment runs the
    base the residual was trained on."""
    groot: GrootExport | None = None
    """With base 'groot': the GR00T checkpoint and settings the residual was trained on top of
    (mjx_gr00t.export.groot), written as residual.json's "groot" entry (null otherwise)."""

    def __post_init__(self) -> None:
        if self.groot is not None and self.base != "groot":
            raise ValueError(f"a GR00T record belongs to base 'groot' only, this export's base is {self.base!r}")
        if self.squash not in ("clip", "tanh"):
            raise ValueError(f"squash must be 'clip' or 'tanh', got {self.squash!r}")
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {list(ALGOS)}, got {self.algo!r}")
        if self.activation not in ACTIVATION_FORMULAS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATION_FORMULAS)}, got {self.activation!r}")
        if any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden widths must be >= 1, got {self.hidden}")
        if self.obs_clip is not None and not self.obs_clip > 0:
            raise ValueError(f"obs_clip must be > 0 or None, got {self.obs_clip}")
        if not self.alpha >= 0 or not self.act_scale > 0:
            raise ValueError(f"need alpha >= 0 and act_scale > 0, got {self.alpha}, {self.act_scale}")
        if not self.obs_layout or any(int(n) < 1 for _, n in self.obs_layout):
            raise ValueError(f"obs_layout must be non-empty (name, size >= 1) pairs, got {self.obs_layout}")
        if len(self.joint_ranges) != len(self.joint_names):
            raise ValueError(
                f"{len(self.joint_names)} joint names but {len(self.joint_ranges)} joint ranges"
            )
        for name, (lo, hi) in zip(self.joint_names, self.joint_ranges, strict=True):
            if not lo < hi:
                raise ValueError(f"joint {name!r}: range must have lo < hi, got ({lo}, {hi})")

    @property
    def obs_dim(self) -> int:
        """Size of the observation the policy takes: the sum of the obs_layout sizes."""
        return sum(int(n) for _, n in self.obs_layout)
