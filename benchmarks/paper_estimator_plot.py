"""The paper-pose estimator's error distribution as a figure: x, y and yaw errors over the rendered
frames, split by whether the arm hides part of the sheet, with the noise model's per-episode bias
range (the twin's `estimate_*_bias` DR defaults) marked. Used by `benchmarks.paper_estimator --plot`."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import save_figure  # noqa: E402
from mjx_gr00t.envs.paper_rig_config import RigDRConfig  # noqa: E402


def plot_errors(error: np.ndarray, hidden: np.ndarray, title: str, path: str) -> None:
    """error (N, 3): estimate - truth, x and y (m), yaw (rad), NaN rows for dropouts; hidden (N,)
    bool: the arm hides part of the sheet. Writes a PNG with one histogram per axis."""
    found = ~np.isnan(error[:, 0])
    dr = RigDRConfig()
    axes_spec = [("x error, mm", 1000.0, 1000.0 * dr.estimate_xy_bias.high),
                 ("y error, mm", 1000.0, 1000.0 * dr.estimate_xy_bias.high),
                 ("yaw error, degrees", math.degrees(1.0), math.degrees(dr.estimate_yaw_bias.high))]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, (ax, (label, scale, bias)) in enumerate(zip(axes, axes_spec)):
        values = error[found, i] * scale
        bins = np.linspace(min(values.min(), -bias) - 1e-9, max(values.max(), bias) + 1e-9, 31)
        ax.hist([values[~hidden[found]], values[hidden[found]]], bins=bins, stacked=True,
                label=["sheet clear", "arm hides part"], color=["#4477aa", "#ee6677"])
        ax.axvspan(-bias, bias, color="0.85", zorder=0, label="noise model's bias range")
        ax.set_xlabel(label)
        ax.set_ylabel("frames")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}; {found.sum()} of {len(error)} frames found", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
