"""The record of `benchmarks.bridge_latency`: the parts of a chunk query, the notes that explain each
figure, the one-line summary per batch size, the stacked-bar PNG and the JSON writer."""

import json
import os
from typing import Any

import numpy as np

from benchmarks.common import save_figure
from mjx_gr00t.machine import machine_line

PARTS: tuple[str, ...] = ("render", "to_torch", "model", "to_jax", "write_back")
"""The parts of one chunk query, in order; they add up to `total`."""
OVERHEAD_PARTS: tuple[str, ...] = ("to_torch", "to_jax", "write_back")
"""The bridge's own parts: everything but rendering and the model."""


NOTES: dict[str, str] = {
    "render": "GL draw of both cameras for every env (scaled from render_envs_drawn envs when "
              "render_extrapolated) + the images put in JAX arrays on the device (measured at full size; "
              "64-byte-aligned host buffers, which JAX shares on a CPU instead of copying)",
    "render_to_jax_unaligned_s": "not in the total: the same hand-over from numpy's own allocation, as "
                                 "BatchRenderer returns it (JAX copies it on a CPU unless it is 64-byte "
                                 "aligned; unaligned_buffers_were_aligned says whether it happened to be)",
    "to_torch": "measured: GrootBase.plan's DLPack jax->torch of images (B,224,224,3) x 2, joints (B,6) "
                "and fallback chunks (B,16,6), with checks",
    "model": "measured: normalisation, sub-batched forward, un-normalisation, non-finite repair (full batch)",
    "to_jax": "measured: DLPack torch->jax of the (B,16,6) chunk",
    "write_back": "measured: jitted ChunkCarry update with the new chunk",
    "overhead": "to_torch + to_jax + write_back; overhead_pct = its share of the total, per repeat, median",
    "contention": "process_cpu_per_wall: this process's CPU seconds per wall second over the timed queries "
                  "(up to ~1 for this mostly single-threaded work when it has a core to itself; far less "
                  "when other jobs hold the cores); load_average_1min_after: the machine's 1-min load",
}


def summary_line(rec: dict[str, Any]) -> str:
    """One record as one line: the median parts in ms, the total, the overhead share and CPU/wall."""
    ms = {p: 1e3 * rec["parts"][p]["median_s"] for p in PARTS}
    ext = f" (extrapolated from {rec['render_envs_drawn']})" if rec["render_extrapolated"] else ""
    return (f"n={rec['num_envs']:>5}: render {ms['render']:,.1f} ms{ext}, to-torch {ms['to_torch']:.3f} ms, "
            f"model {ms['model']:,.1f} ms, to-JAX {ms['to_jax']:.3f} ms, write-back {ms['write_back']:.3f} ms; "
            f"total {1e3 * rec['total']['median_s']:,.1f} ms; overhead {rec['overhead_pct']:.4f} % "
            f"({rec['overhead_pct_without_render']:.3f} % without render); "
            f"CPU/wall {rec['process_cpu_per_wall']:.2f}")


COLOURS: dict[str, str] = {"render": "tab:gray", "to_torch": "tab:orange", "model": "tab:blue",
                           "to_jax": "tab:red", "write_back": "tab:purple"}


def plot_parts(data: dict[str, Any], path: str) -> None:
    """Stacked bars of the median parts per batch size: the whole query, and without rendering."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = data["records"]
    labels = [str(r["num_envs"]) for r in recs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for ax, parts, title in ((axes[0], PARTS, "whole chunk query"), (axes[1], PARTS[1:], "without rendering"),
                             (axes[2], OVERHEAD_PARTS, "the bridge's own parts")):
        bottom = np.zeros(len(recs))
        for part in parts:
            ms = np.array([1e3 * r["parts"][part]["median_s"] for r in recs])
            ax.bar(labels, ms, bottom=bottom, color=COLOURS[part], label=part.replace("_", "-"))
            bottom += ms
        for i, r in enumerate(recs):
            if parts != OVERHEAD_PARTS:
                pct = r["overhead_pct"] if parts == PARTS else r["overhead_pct_without_render"]
                ax.annotate(f"bridge {pct:.3g} %", (i, bottom[i]), ha="center", va="bottom", fontsize=8)
        ax.set(title=title, xlabel="envs per query", ylabel="ms per chunk query (median)")
        ax.set_ylim(0, 1.15 * bottom.max())
        ax.legend(fontsize=7)
    ext = [r["num_envs"] for r in recs if r["render_extrapolated"]]
    note = f"; render scaled from {recs[0]['render_envs_drawn']} drawn envs" if ext else ""
    fig.suptitle(f"GR00T bridge latency, {data['model'].split(',')[0]} ({machine_line(data['machine'])}{note})",
                 fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def write_json(data: dict[str, Any], path: str) -> None:
    """`data` as indented JSON at `path`, its folder made if missing."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)

