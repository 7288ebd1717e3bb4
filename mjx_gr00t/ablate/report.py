"""The ablation's results: rows per arm (pooled over seeds) and per (arm, seed), as CSV, markdown
and a PNG bar chart with 95 % confidence intervals.

A row's interval is the Wilson score interval of its episodes' successes. Pooled rows pool the
seeds' (distinct) held-out episodes; their interval covers episode sampling, not the spread
between training seeds, which the per-seed rows and the chart's dots show.
"""

import csv
import dataclasses
import os
from typing import Any

import numpy as np

from mjx_gr00t.evaluation import EpisodeResults, wilson

POOLED: str = "pooled"
CSV_FIELDS: tuple[str, ...] = (
    "arm", "seed", "episodes", "successes", "success_rate", "ci95_low", "ci95_high", "mean_return",
    "mean_final_distance",
)


@dataclasses.dataclass(frozen=True)
class Row:
    """Success of one arm on one seed (seed = "pooled" for all seeds together)."""

    arm: str
    seed: str
    episodes: int
    successes: int
    mean_return: float
    mean_final_distance: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @property
    def ci95(self) -> tuple[float, float]:
        """Wilson 95 % interval of the success rate."""
        return wilson(self.successes, self.episodes)

    def record(self) -> dict[str, Any]:
        """The CSV / JSON record of this row."""
        lo, hi = self.ci95
        return {"arm": self.arm, "seed": self.seed, "episodes": self.episodes, "successes": self.successes,
                "success_rate": self.success_rate, "ci95_low": lo, "ci95_high": hi,
                "mean_return": self.mean_return, "mean_final_distance": self.mean_final_distance}


def rows_for(arm: str, seeds: tuple[int, ...], results: list[EpisodeResults]) -> list[Row]:
    """The pooled row of `arm`, then one row per seed; results: one `EpisodeResults` per seed."""
    def row(seed: str, rs: list[EpisodeResults]) -> Row:
        success = np.concatenate([np.asarray(r.success) for r in rs]) > 0.5
        returns = np.concatenate([np.asarray(r.episode_return, np.float64) for r in rs])
        distance = np.concatenate([np.asarray(r.final_distance, np.float64) for r in rs])
        return Row(arm, seed, len(success), int(success.sum()), float(returns.mean()), float(distance.mean()))

    return [row(POOLED, results), *(row(str(s), [r]) for s, r in zip(seeds, results))]


def write_csv(path: str, rows: list[Row]) -> None:
    """One line per row, columns `CSV_FIELDS`."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow(r.record())


def _pct(rate: float) -> str:
    return f"{100 * rate:.1f} %"


def _ci(row: Row) -> str:
    lo, hi = row.ci95
    return f"{100 * lo:.1f}..{100 * hi:.1f}"


def markdown(rows: list[Row], title: str, notes: list[str]) -> str:
    """A markdown table: one line per arm (pooled), with each seed's rate and interval beside it."""
    pooled = [r for r in rows if r.seed == POOLED]
    per_seed = {a.arm: [r for r in rows if r.arm == a.arm and r.seed != POOLED] for a in pooled}
    lines = [f"# {' '.join(title.split())}", "", *notes, "",
             "| arm | success (pooled) | 95 % CI | episodes | per seed: success (95 % CI) | mean return | final dist (m) |",
             "|---|---|---|---|---|---|---|"]
    for r in pooled:
        seeds = "; ".join(f"s{s.seed}: {_pct(s.success_rate)} ({_ci(s)})" for s in per_seed[r.arm])
        lines.append(f"| {r.arm} | {_pct(r.success_rate)} | {_ci(r)} | {r.episodes} | {seeds} | "
                      f"{r.mean_return:.2f} | {r.mean_final_distance:.4f} |")
    return "\n".join(lines) + "\n"


def plot(path: str, rows: list[Row], title: str, reference: str | None = None) -> None:
    """Bars of pooled success per arm with 95 % CI error bars, each seed's rate as a dot. The arm
    named `reference` (the base alone), if given, is drawn as a dashed line instead of a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pooled = [r for r in rows if r.seed == POOLED and r.arm != reference]
    x = np.arange(len(pooled))
    rates = np.array([r.success_rate for r in pooled])
    cis = np.array([r.ci95 for r in pooled]).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(pooled) + 3.5), 4.2))
    ax.bar(x, rates, color="tab:blue", alpha=0.75, label="pooled over seeds")
    ax.errorbar(x, rates, yerr=[rates - cis[:, 0], cis[:, 1] - rates], fmt="none", ecolor="black",
                capsize=4, label="95 % CI (Wilson)")
    for i, r in enumerate(pooled):
        seeds = [s.success_rate for s in rows if s.arm == r.arm and s.seed != POOLED]
        ax.scatter(np.full(len(seeds), i) + np.linspace(-0.15, 0.15, len(seeds)), seeds, color="tab:orange",
                   zorder=3, s=14, label="per seed" if i == 0 else None)
    for r in rows:
        if r.arm == reference and r.seed == POOLED:
            ax.axhline(r.success_rate, color="grey", linestyle="--", label=r.arm)
    ax.set_xticks(x, [r.arm for r in pooled], rotation=20)
    ax.set(ylabel="held-out success rate", ylim=(0, 1))
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(out: str, rows: list[Row], title: str, notes: list[str], reference: str | None) -> dict[str, str]:
    """Writes results.csv, results.md and success.png into `out`; returns their paths by kind."""
    paths = {"csv": os.path.join(out, "results.csv"), "markdown": os.path.join(out, "results.md"),
             "png": os.path.join(out, "success.png")}
    write_csv(paths["csv"], rows)
    with open(paths["markdown"], "w") as f:
        f.write(markdown(rows, title, notes))
    plot(paths["png"], rows, title, reference)
    return paths
