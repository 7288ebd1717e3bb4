"""The sweep's results: one row per configuration, soonest held target first, as CSV, markdown and a
plot of every configuration's held-out success against its training clock.

    rows = table(plan, progress, settings)
    paths = write_all(out, rows, plan, progress, settings, notes)
"""

import csv
import math
import os
from typing import Any

from mjx_gr00t.sweep import outcome
from mjx_gr00t.sweep.plan import Plan
from mjx_gr00t.sweep.progress import Progress
from mjx_gr00t.sweep.settings import SweepSettings
from mjx_gr00t.time_to_target import DEFINITION


def table(plan: Plan, progress: Progress, settings: SweepSettings) -> list[dict[str, Any]]:
    """One record per configuration: its swept values, time and env steps to the held target (per seed
    and the configuration's), final held-out success pooled over seeds with its 95 % Wilson interval,
    how its runs ended. Sorted: held target soonest first, then those that never held it by final success."""
    rows = []
    for i, values in enumerate(plan.configs):
        ks = outcome.config_runs(plan, i)
        held = [outcome.run_held(progress.runs[k], settings.target, settings.hold) for k in ks]
        final = outcome.final_success(plan, progress, i)
        time_s = outcome.config_held(plan, progress, i, settings.target, settings.hold)
        rows.append({
            "config": i, **{k: _text(v) for k, v in values.items()},
            "time_to_target_s": time_s,
            "env_steps_to_target": None if time_s is None else max(h[1] for h in held),
            "per_seed_s": ";".join("-" if h is None else f"{h[0]:.1f}" for h in held),
            "held_to_last_eval_s": outcome.config_held_to_end(plan, progress, i, settings.target),
            "final_success": None if final is None else final[2],
            "final_ci95_low": None if final is None else final[3],
            "final_ci95_high": None if final is None else final[4],
            "final_episodes": None if final is None else final[1],
            "trained_s": max(progress.runs[k].clock_s for k in ks),
            "env_steps": max(progress.runs[k].env_steps for k in ks),
            "ended": "; ".join(sorted({progress.runs[k].stopped or "training" for k in ks})),
        })
    return sorted(rows, key=lambda r: (r["time_to_target_s"] is None, r["time_to_target_s"] or 0.0,
                                       -(r["final_success"] or 0.0)))


def _text(value: Any) -> Any:
    return "x".join(map(str, value)) if isinstance(value, tuple) else value


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100 * value:.1f} %"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(rows: list[dict[str, Any]], swept: list[str], title: str, notes: list[str]) -> str:
    """A markdown table of `rows` (swept columns first) under `title`, with `notes` below."""
    head = ["#", *swept, "time to target (s)", "env steps to it", "per seed (s)", "held to its last evaluation (s)",
            "final success (95 % CI)", "trained (s)", "ended"]
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ci = "" if r["final_success"] is None else f" ({_fmt(r['final_ci95_low'], True)}..{_fmt(r['final_ci95_high'], True)})"
        cells = [str(r["config"]), *(_fmt(r[k]) for k in swept), _fmt(r["time_to_target_s"]),
                 _fmt(r["env_steps_to_target"]), r["per_seed_s"], _fmt(r["held_to_last_eval_s"]),
                 _fmt(r["final_success"], True) + ci,
                 _fmt(r["trained_s"]), r["ended"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *(f"- {n}" for n in notes), ""])


def write_csv(path: str, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(path: str, plan: Plan, progress: Progress, settings: SweepSettings, title: str) -> None:
    """Held-out success against each run's training clock, one line per run (a configuration's seeds
    share a colour), the target dashed; the soonest configuration drawn thick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    leader = outcome.best(plan, progress, settings.target, settings.hold)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = plt.get_cmap("tab20")
    for k, run in enumerate(progress.runs):
        if not run.curve:
            continue
        index = plan.runs[k].index
        first = outcome.config_runs(plan, index)[0] == k
        wide = leader is not None and index == leader[0]
        ax.plot([c for c, _, _ in run.curve], [100 * s for _, _, s in run.curve], color=colours(index % 20),
                lw=2.6 if wide else 1.0, alpha=1.0 if wide else 0.75, label=f"config {index}" if first else None)
    ax.axhline(100 * settings.target, ls="--", color="k", lw=1, label=f"target {settings.target:.0%}")
    ax.set_xlabel("training clock per run (s; compile and evaluations excluded)")
    ax.set_ylabel(f"held-out success (%, {settings.eval_episodes} episodes)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ncol = max(1, math.ceil(len(plan.configs) / 12))
    ax.legend(fontsize=7, ncol=ncol, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def notes(settings: SweepSettings) -> list[str]:
    """What the table's columns mean."""
    return [
        f"Time to target: {DEFINITION}; here held for {settings.hold} evaluations of {settings.eval_episodes} "
        f"held-out episodes (seed {settings.eval_seed}), every {settings.eval_every_steps:,} env steps per run. "
        "A configuration's time is the latest of its seeds'. 'Held to its last evaluation' is the stricter "
        "reading: success at or above the target at every evaluation from then to the run's last (its stop, if early).",
        "Clock: each run's share of its program's training time (an iteration's wall time over the runs in "
        "it; compiles and evaluations excluded), i.e. its time alone if the cost is linear in runs.",
        f"Final success: {settings.final_episodes} held-out episodes per seed when the run ended, pooled over "
        "seeds; 95 % Wilson interval.",
    ]


def write_all(out: str, rows: list[dict[str, Any]], plan: Plan, progress: Progress, settings: SweepSettings,
              title: str) -> dict[str, str]:
    """results.csv, results.md and success.png in `out`; returns their paths."""
    paths = {"csv": os.path.join(out, "results.csv"), "markdown": os.path.join(out, "results.md"),
             "png": os.path.join(out, "success.png")}
    write_csv(paths["csv"], rows)
    swept = list(plan.configs[0]) if plan.configs else []
    with open(paths["markdown"], "w") as f:
        f.write(markdown(rows, swept, title, notes(settings)))
    plot(paths["png"], plan, progress, settings, title)
    return paths
