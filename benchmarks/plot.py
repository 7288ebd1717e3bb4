"""Plot a throughput report: env steps/s against num_envs, one panel per scene, one line per
engine and figure, log-log.

    python -m benchmarks.plot benchmarks/results/throughput_cpu2.json   # writes the .png beside it
"""

import dataclasses
import json
import math
import os
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tyro  # noqa: E402

from benchmarks.common import save_figure  # noqa: E402
from mjx_gr00t import cli_args  # noqa: E402

from mjx_gr00t.machine import machine_line  # noqa: E402

FIGURE_COLOURS: dict[str, str] = {
    "env": "tab:blue", "env_policy": "tab:orange", "train_ppo": "tab:green", "train_sac": "tab:red",
}
ENGINE_STYLES: dict[str, str] = {"c": "-", "mjx": "--", "warp": ":"}
ENGINE_MARKERS: dict[str, str] = {"c": "o", "mjx": "s", "warp": "^"}


def plot_throughput(report: dict[str, Any], path: str) -> None:
    """Writes a PNG of `report["records"]` (benchmarks.throughput's JSON) to `path`."""
    records = report["records"]
    scenes = sorted({r["scene"] for r in records}) or ["(no records)"]
    cols = min(2, len(scenes))
    rows = math.ceil(len(scenes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 4.2 * rows), squeeze=False)
    for ax, scene in zip(axes.flat, scenes):
        lines: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for r in records:
            if r["scene"] == scene:
                lines.setdefault((r["engine"], r["figure"]), []).append((r["num_envs"], r["policy_steps_per_s"]))
        for (engine, figure), points in sorted(lines.items()):
            xs, ys = zip(*sorted(points))
            ax.plot(xs, ys, ENGINE_STYLES.get(engine, "-."), marker=ENGINE_MARKERS.get(engine, "x"),
                    markerfacecolor="none" if engine != "c" else None,
                    color=FIGURE_COLOURS.get(figure, "black"), label=f"{engine} {figure}")
        ax.set_xscale("log", base=2)
        sizes = sorted({r["num_envs"] for r in records if r["scene"] == scene})
        if sizes:
            ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
            ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_title(scene)
        ax.set_xlabel("num_envs")
        ax.set_ylabel("env (policy) steps/s")
        ax.grid(True, which="both", alpha=0.3)
        if lines:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(scenes):]:
        ax.axis("off")
    fig.suptitle(f"throughput on {machine_line(report['machine'])}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


@dataclasses.dataclass(frozen=True)
class Args:
    """Redraw the plot of a benchmarks.throughput JSON file."""

    report: tyro.conf.Positional[str]
    """The JSON file written by benchmarks.throughput."""
    out: str | None = None
    """PNG path; default: the JSON path with .png."""


if __name__ == "__main__":
    args = cli_args.cli(Args)
    with open(args.report) as f:
        plot_throughput(json.load(f), args.out or os.path.splitext(args.report)[0] + ".png")
