"""Export a run's residual policy for deployment next to GR00T on a real SO-101.

    python -m train.export --run runs/residual_ppo            # writes runs/residual_ppo/export/

Writes `residual.safetensors` (weights and observation normaliser) and `residual.json` (network
and observation layout, alpha, act_scale, joint names, LeRobot units); see mjx_gr00t.export.write.
`bridge.residual_torch.ResidualPolicy.from_export(DIR)` rebuilds it as a torch module. For a run on
`--base groot`, residual.json also records the GR00T base (checkpoint, data config, key map,
embodiment tag, n_action_steps, task; mjx_gr00t.export.groot), and
`bridge.groot.policy.GrootBase.from_export(DIR)` loads that base back.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os

from mjx_gr00t import cli_args

from bridge.groot import planner
from mjx_gr00t.runner.trained import load_trained


@dataclasses.dataclass(frozen=True)
class Args:
    """Export a training run's residual policy."""

    run: str
    """Run directory (the --out of train.residual_ppo / train.residual_sac)."""
    out: str | None = None
    """Export directory; default RUN/export."""


def export(args: Args) -> str:
    """Writes the export and returns its directory."""
    trained = load_trained(args.run, groot=planner)
    out = args.out or os.path.join(args.run, "export")
    trained.export(out)  # with --base groot, residual.json records the GR00T base too
    print(f"exported {trained.config.scene.base} + residual ({trained.env_steps:,} env steps) to {out}")
    return out


if __name__ == "__main__":
    export(cli_args.cli(Args))
