"""Where training metrics go: DIR/metrics.jsonl, wandb (offline by default), a progress bar, a PNG.

    with MetricsLog(out, wandb_mode="offline", project="mjx-gr00t", config=args, total_steps=n,
                    initial_steps=resumed_steps, name="ppo") as log:
        log.write(env_steps, {"rollout/ep_rew_mean": ..., ...})
    plot_learning_curve(out + "/metrics.jsonl", out + "/learning_curve.png")
"""

import collections
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any, Literal

from tqdm import tqdm

from mjx_gr00t.export.format import read_json_lines
from mjx_gr00t.distributed import is_main_process

WandbMode = Literal["offline", "online", "disabled"]

METRICS_FILE: str = "metrics.jsonl"
PROGRESS_KEYS: dict[str, str] = {
    "rollout/ep_rew_mean": "return", "rollout/success_rate": "success", "eval/success_rate": "eval",
}


class MetricsLog:
    """Appends one JSON line per `write`, mirrors it to wandb, and advances a tqdm bar in env steps.

    In a several-host run only process 0 writes (file, wandb, bar); the others log nothing."""

    def __init__(
        self, out: str, wandb_mode: WandbMode, project: str, config: dict[str, Any],
        total_steps: int, initial_steps: int = 0, name: str | None = None, initial_wall_s: float = 0.0,
    ) -> None:
        self.path = os.path.join(out, METRICS_FILE)
        self._main = is_main_process()
        self._shown: dict[str, float] = {}
        self._file = open(self.path if self._main else os.devnull, "a")
        now = time.perf_counter()
        self._start = now - initial_wall_s   # time/wall_s counts on across resumes
        self._last_time, self._last_steps = now, initial_steps
        self.excluded_s = 0.0   # seconds spent off the clock (held-out evaluation) in this invocation
        self._bar = tqdm(total=total_steps, initial=initial_steps, unit="step", unit_scale=True,
                         dynamic_ncols=True, desc=name, disable=not self._main)
        self._run = None
        if wandb_mode != "disabled" and self._main:
            import wandb  # imported lazily: it is slow to import

            os.environ.setdefault("WANDB_SILENT", "true")
            self._run = wandb.init(
                project=project, dir=out, mode=wandb_mode, config=config, name=name,
                id=_run_id(out), resume="allow",
            )

    def write(self, env_steps: int, metrics: dict[str, float]) -> dict[str, float]:
        """Logs one iteration's scalars at `env_steps`; adds time/{wall_s, env_steps_per_s}.

        time/wall_s is the training time since the run began, summed over its resumes."""
        now = time.perf_counter()
        rate = (env_steps - self._last_steps) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_steps = now, env_steps
        record = {k: float(v) for k, v in metrics.items()}
        record.update({"env_steps": env_steps, "time/wall_s": now - self._start, "time/env_steps_per_s": rate})
        self._file.write(json.dumps({k: _json_number(v) for k, v in record.items()}) + "\n")
        self._file.flush()
        if self._run is not None:
            self._run.log(record, step=env_steps)
        for k in PROGRESS_KEYS:
            if k in record and math.isfinite(record[k]):
                self._shown[k] = record[k]   # NaN: no episode ended this iteration; keep the last value
        shown = {label: f"{self._shown[k]:.3g}" for k, label in PROGRESS_KEYS.items() if k in self._shown}
        self._bar.set_postfix({"steps/s": f"{rate:,.0f}", **shown}, refresh=False)
        self._bar.update(env_steps - self._bar.n)
        return record

    def off_the_clock(self, measure: Callable[[], dict[str, float]]) -> dict[str, float]:
        """measure()'s metrics plus eval/wall_s, its duration, which time/wall_s and the steps/s
        of the next write leave out (held-out evaluation is not training time)."""
        t0 = time.perf_counter()
        metrics = dict(measure())
        spent = time.perf_counter() - t0
        self.excluded_s += spent
        self._start += spent
        self._last_time += spent
        return {**metrics, "eval/wall_s": spent}

    def summary(self, values: dict[str, Any]) -> None:
        """Records end-of-run values in wandb's run summary."""
        if self._run is not None:
            for k, v in values.items():
                self._run.summary[k] = v

    def close(self) -> None:
        """Closes the bar, the file and the wandb run."""
        self._bar.close()
        self._file.close()
        if self._run is not None:
            self._run.finish()
            self._run = None

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_id(out: str) -> str:
    """A stable wandb id per run directory, so a resumed run continues the same wandb run."""
    return "run-" + hashlib.sha1(os.path.abspath(out).encode()).hexdigest()[:12]


def _json_number(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def read_metrics(path: str) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    return read_json_lines(path)


def wall_time_at(path: str, env_steps: int) -> float:
    """time/wall_s of the last record of metrics file `path` at or before `env_steps` (0 if none):
    the training time a run had spent when its checkpoint at `env_steps` was written."""
    if not os.path.exists(path):
        return 0.0
    done = [r for r in read_metrics(path) if r.get("env_steps", math.inf) <= env_steps]
    return float(done[-1].get("time/wall_s") or 0.0) if done else 0.0


SMOOTH_EPISODES: int = 100
"""Learning curves average episode metrics over the trailing iterations holding this many episodes."""


def _series(records: list[dict[str, Any]], key: str,
            min_episodes: int = SMOOTH_EPISODES) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(env_steps, values) of `key` per record that has a value. With `rollout/episodes` logged, each
    value is the episode-weighted mean over the trailing records holding >= `min_episodes` episodes
    (records without finished episodes are skipped), so the curve shows a rate, not per-iteration noise."""
    if not any("rollout/episodes" in r for r in records):
        points = [(r["env_steps"], r[key]) for r in records if r.get(key) is not None]
        return tuple(zip(*points)) if points else ((), ())  # type: ignore[return-value]
    window: collections.deque[tuple[float, float]] = collections.deque()
    episodes = total = 0.0
    xs, ys = [], []
    for r in records:
        n, value = r.get("rollout/episodes") or 0, r.get(key)
        if value is None or n <= 0:
            continue
        window.append((n, value))
        episodes, total = episodes + n, total + n * value
        while len(window) > 1 and episodes - window[0][0] >= min_episodes:
            n0, v0 = window.popleft()
            episodes, total = episodes - n0, total - n0 * v0
        xs.append(r["env_steps"])
        ys.append(total / episodes)
    return tuple(xs), tuple(ys)


def plot_learning_curve(metrics_path: str, png_path: str, title: str = "",
                        baselines: dict[str, float] | None = None) -> None:
    """Success rate and return against env steps, with optional horizontal baseline rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(*_series(records, "rollout/success_rate"),
             label=f"training rollouts (mean of the last {SMOOTH_EPISODES} episodes)")
    for name, rate in (baselines or {}).items():
        ax1.axhline(rate, linestyle="--", color="green" if "residual" in name else "grey", label=name)
    ax1.set(xlabel="env steps", ylabel="success rate", ylim=(-0.02, 1.04), title="success")
    ax1.legend(loc="best", framealpha=0.9)
    ax2.plot(*_series(records, "rollout/ep_rew_mean"))
    ax2.set(xlabel="env steps", ylabel="episode return", title="return")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
