"""Plot the sb3 part of a peers report: held-out success against each side's training wall time, the
target of each comparison dashed, and where each side holds it.

    python -m benchmarks.peers_plot benchmarks/results/peers_twin_cpu2.json   # writes the .png beside it
"""

import dataclasses
import json
import os
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tyro  # noqa: E402

from benchmarks.common import save_figure  # noqa: E402
from mjx_gr00t import cli_args  # noqa: E402
from mjx_gr00t.errors import UsageError  # noqa: E402

HEADLINE: str = "held_3_evals_s"


def plot_sb3(report: dict[str, Any], path: str) -> None:
    """Writes `path`: ours and every SB3 run's held-out curve ([wall s, success, env steps] points), each
    comparison's target, and a marker where each side holds it for 3 evaluations."""
    sb3 = report["parts"]["sb3"]
    fig, ax = plt.subplots(figsize=(9, 5))
    ours = sb3["ours"]["heldout_curve"]
    ax.plot([p[0] for p in ours], [100 * p[1] for p in ours], "-o", ms=3, color="tab:blue",
            label=f"ours ({sb3['ours']['env_steps_per_s']:,.0f} env steps/s)")
    colours = ("tab:orange", "tab:red", "tab:purple")
    for run, cmp, colour in zip(sb3["sb3"], sb3["comparisons"], colours):
        curve = run["heldout_curve"]
        ax.plot([p[0] for p in curve], [100 * p[1] for p in curve], "-s", ms=3, color=colour,
                label=f"{run['name']} ({run['env_steps_per_s']:,.0f} env steps/s)")
        target = 100 * cmp["target"]
        ax.axhline(target, ls="--", lw=1, color=colour, alpha=0.7)
        for side, mark in ((cmp["ours_time_to_target"], "tab:blue"), (cmp["peer_time_to_target"], colour)):
            if side[HEADLINE] is not None:
                ax.plot([side[HEADLINE]], [target], marker="v", ms=11, color=mark, ls="none")
        ratio = cmp.get(f"ratio_{HEADLINE.removesuffix('_s')} (headline)")
        ax.text(0.99, target - 4, f"target {target:.1f} %: {'n/a' if ratio is None else f'{ratio:.1f}x'} sooner",
                transform=ax.get_yaxis_transform(), ha="right", fontsize=8, color=colour)
    ax.set_xlabel("training wall time (s; held-out evaluations off the clock)")
    ax.set_ylabel(f"held-out success (%, {sb3['heldout_episodes']} episodes)")
    ax.set_title(f"{sb3['task']['scene']}, base {sb3['task']['base']}: time to a held target "
                 f"(markers: held for 3 evaluations)\n{report['machine_line']}", fontsize=9)
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


@dataclasses.dataclass(frozen=True)
class Args:
    """Plot the sb3 part of a benchmarks.peers report: both sides' held-out curves and held times."""

    report: tyro.conf.Positional[str]
    """The JSON file written by benchmarks.peers (with an sb3 part)."""
    out: str | None = None
    """PNG path; default: the JSON path with .png."""


def main(argv: list[str] | None = None) -> str:
    """`python -m benchmarks.peers_plot REPORT.json`: writes the plot; returns its path."""
    args = cli_args.cli(Args, args=list(sys.argv[1:] if argv is None else argv))
    try:
        with open(args.report) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {args.report!r}: {e}") from e
    if "sb3" not in report.get("parts", {}):
        raise UsageError(f"{args.report!r} has no sb3 part to plot (run benchmarks.peers with --parts sb3)")
    path = args.out or os.path.splitext(args.report)[0] + ".png"
    plot_sb3(report, path)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
