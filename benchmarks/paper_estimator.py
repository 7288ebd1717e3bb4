"""Errors of the top-camera paper-pose estimator on the paper_rig twin's rendered frames, under
image-side domain randomisation: the figures behind the estimate noise model's defaults.

    nice -n 19 python -m benchmarks.paper_estimator --json benchmarks/results/paper_estimator_cpu2.json

Draws --samples rig states: the sheet's pose from the rig's DR ranges (`RigDRConfig.paper_xy`,
`paper_yaw`) around the start pose (even samples) and around the tape frame's centre (odd ones), the
arm's joints jittered about `home_qpos` (so that the jaws sometimes hide part of the sheet; poses
with a fingertip below the table are drawn again). Each group of --states-per-camera states (one
"episode") shares an image-side DR draw applied to the rendered model: the front camera moved
(+-5 mm), turned about its three axes (+-1 deg: tilt and yaw), its fovy changed (+-2 deg), every
light's diffuse (the headlight's too) scaled (+-30 %). The estimator (`perception.paper_estimator`)
reads each 320 x 240 frame with the NOMINAL camera model, as a deployment would, and measures the
sheet against the red tape frame it also sees (`perception.frame_anchor`), which cancels most of
the camera's error; the same frames through the nominal camera alone are reported beside it
(`nominal_camera_only`), side by side in one run.

Reports, for all samples and split by region and by occlusion (whether the arm hides >= 2 % of the
sheet's in-view pixels, found from a second render without the arm): the centre error (mean, p50,
p95, max, m), the yaw error modulo 180 degrees (rad), the bias (mean signed x, y, yaw error), the
per-axis standard deviation, and the dropout rate (no sheet found). The noise model splits the
error into a per-episode bias and per-step noise; the record does too: the spread of the
per-camera-draw mean errors (between) and the pooled standard deviation about them (within).
`--json` writes the record, the machine named.
"""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import copy
import dataclasses
import math
import os
import time
from typing import Any

import mujoco
import numpy as np
from mjx_gr00t import cli_args

from benchmarks.common import machine_tag, write_record
from benchmarks.paper_estimator_plot import plot_errors
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_estimate import canonical_yaw
from mjx_gr00t.envs.paper_rig_config import FINGERTIP_RADIUS, FINGERTIPS, PaperRigConfig, RigDRConfig
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.perception.camera_model import CameraModel
from mjx_gr00t.perception.frame_anchor import TapeFrame, estimate_paper_in_frame
from mjx_gr00t.perception.image_dr import ImageJitter
from mjx_gr00t.perception.paper_estimator import PaperEstimate, estimate_paper, white_mask

WIDTH, HEIGHT = 320, 240
CAMERA = "front"
PAPER = 6  # qpos index of the sheet's x (its free joint follows the six arm joints)
ARM_HIDDEN = 0.02
"""A sample counts as partly hidden when the arm covers at least this fraction of the sheet's
in-view pixels (measured against a render of the same state without the arm)."""
REGIONS = ("start", "frame")


_DR = RigDRConfig()
"""The twin's DR: its image-side factors are this benchmark's default jitter."""


@dataclasses.dataclass(frozen=True)
class Args:
    """Measure the paper-pose estimator's errors on rendered rig states with image-side DR."""

    samples: int = 500
    """Rig states to render and estimate."""
    states_per_camera: int = 10
    """States sharing one image-side DR draw (one episode's camera and light)."""
    seed: int = 0
    """Seed of the states and the image-side DR draws."""
    arm_jitter: float = 0.5
    """Half-width of the uniform offset added to each arm joint's home position, rad."""
    camera_pos_jitter: float = _DR.camera_pos.high
    """Half-width of the camera's position offset, m, drawn per axis (default: the twin's DR)."""
    camera_angle_jitter: float = round(math.degrees(_DR.camera_angle.high), 6)
    """Half-width of the camera's turn about each of its axes (tilt, tilt, yaw), degrees."""
    fovy_jitter: float = _DR.camera_fovy.high
    """Half-width of the camera's fovy offset, degrees."""
    light_jitter: float = round(_DR.light.high - 1.0, 6)
    """Half-width of the lights' diffuse scale about 1 (one draw for all lights)."""
    json: str | None = None
    """Also write the record to this JSON file (its directory must exist)."""
    plot: str | None = None
    """Also draw the error distribution to this PNG (its directory must exist)."""


def validate(args: Args) -> None:
    """Raises UsageError (one line saying what to fix) for a bad flag."""
    if args.samples < 1:
        raise UsageError(f"--samples must be >= 1, got {args.samples}")
    if args.states_per_camera < 1:
        raise UsageError(f"--states-per-camera must be >= 1, got {args.states_per_camera}")
    for name in ("arm_jitter", "camera_pos_jitter", "camera_angle_jitter", "fovy_jitter", "light_jitter"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.light_jitter >= 1:
        raise UsageError(f"--light-jitter must be < 1 (a scale about 1), got {args.light_jitter}")
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"{flag} {path!r}: its directory does not exist")


def draw_state(rng: np.random.Generator, model: mujoco.MjModel, data: mujoco.MjData, config: PaperRigConfig,
               region: str, arm_jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """One rig state: qpos (nq,) and the sheet's true (x, y, yaw) (3,)."""
    dr = config.dr
    centre = np.asarray(config.paper_start if region == "start" else config.frame_centre)
    xy = centre + rng.uniform(dr.paper_xy.low, dr.paper_xy.high, 2)
    yaw = config.paper_start_yaw + rng.uniform(dr.paper_yaw.low, dr.paper_yaw.high)
    qpos = model.qpos0.copy()
    qpos[PAPER:PAPER + 2] = xy
    qpos[PAPER + 3:PAPER + 7] = math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)
    low, high = model.jnt_range[:6].T
    for _ in range(100):  # a pose with both fingertips above the table
        qpos[:6] = np.clip(np.asarray(config.home_qpos) + rng.uniform(-arm_jitter, arm_jitter, 6), low, high)
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        if min(data.geom(name).xpos[2] for name in FINGERTIPS) >= FINGERTIP_RADIUS:
            break
    return qpos, np.array([*xy, yaw])


def jittered_model(model: mujoco.MjModel, rng: np.random.Generator,
                   args: Args) -> tuple[mujoco.MjModel, dict[str, Any]]:
    """A copy of `model` with one image-side DR draw applied (camera pose and fovy, light), and the draw."""
    offset = rng.uniform(-args.camera_pos_jitter, args.camera_pos_jitter, 3)
    angles = np.radians(rng.uniform(-args.camera_angle_jitter, args.camera_angle_jitter, 3))
    fovy = rng.uniform(-args.fovy_jitter, args.fovy_jitter)
    light = rng.uniform(1 - args.light_jitter, 1 + args.light_jitter)
    jitter = ImageJitter(model)
    jitter.apply(np.array([*offset, *angles, fovy, light]), [model.camera(CAMERA).id])
    draw = {"camera_offset_m": offset.tolist(), "camera_turn_deg": np.degrees(angles).tolist(),
            "fovy_offset_deg": float(fovy), "light_scale": float(light)}
    return jitter.model, draw


def signed_error(est: PaperEstimate | None, truth: np.ndarray) -> np.ndarray:
    """(3,) estimate - truth in x, y (m) and yaw modulo 180 degrees (rad); NaN for a dropout."""
    if est is None:
        return np.full(3, np.nan)
    return np.array([est.centre[0] - truth[0], est.centre[1] - truth[1], float(canonical_yaw(est.yaw - truth[2]))])


def error_stats(err: np.ndarray) -> dict[str, Any]:
    """err (N, 3) signed errors (NaN rows: dropouts) -> summary statistics."""
    dropped = np.isnan(err[:, 0])
    e = err[~dropped]
    out: dict[str, Any] = {"samples": len(err), "estimates": len(e),
                           "dropout_rate": float(dropped.mean()) if len(err) else math.nan}
    if len(e) == 0:
        return out
    centre, yaw = np.hypot(e[:, 0], e[:, 1]), np.abs(e[:, 2])
    spread = lambda v: {"mean": float(v.mean()), "p50": float(np.percentile(v, 50)),  # noqa: E731
                        "p95": float(np.percentile(v, 95)), "max": float(v.max())}
    out["centre_error_m"] = spread(centre)
    out["yaw_error_rad"] = spread(yaw)
    out["bias"] = dict(zip(("x_m", "y_m", "yaw_rad"), map(float, e.mean(axis=0))))
    out["std"] = dict(zip(("x_m", "y_m", "yaw_rad"), map(float, e.std(axis=0))))
    return out


def bias_and_noise(err: np.ndarray, group: np.ndarray) -> dict[str, Any]:
    """err (N, 3), group (N,) camera-draw ids -> the spread of the per-draw mean errors (between:
    the per-episode bias) and the pooled standard deviation about them (within: per-step noise)."""
    keep = ~np.isnan(err[:, 0])
    err, group = err[keep], group[keep]
    ids = [g for g in np.unique(group) if (group == g).sum() >= 2]
    if not ids:
        return {}
    means = np.stack([err[group == g].mean(axis=0) for g in ids])
    residual = np.concatenate([err[group == g] - err[group == g].mean(axis=0) for g in ids])
    dof = len(residual) - len(ids)
    within = np.sqrt((residual ** 2).sum(axis=0) / max(dof, 1))
    axes = ("x_m", "y_m", "yaw_rad")
    return {"camera_draws": len(ids),
            "between_draw_std": dict(zip(axes, map(float, means.std(axis=0)))),
            "between_draw_max_abs": dict(zip(axes, map(float, np.abs(means).max(axis=0)))),
            "within_draw_std": dict(zip(axes, map(float, within)))}


def without_arm(model: mujoco.MjModel) -> mujoco.MjModel:
    """A copy of `model` whose arm (every body under `base`) is not drawn (its geoms in group 5)."""
    m = copy.deepcopy(model)
    arm = m.body_rootid[m.geom_bodyid] == m.body("base").id
    m.geom_group[arm] = 5
    return m


@dataclasses.dataclass(frozen=True)
class Samples:
    """Per-sample results of a run (N samples)."""

    error: np.ndarray  # (N, 3) estimate - truth: x, y (m), yaw modulo 180 degrees (rad); NaN: dropout
    error_nominal: np.ndarray  # (N, 3) the same through the nominal camera alone (no tape anchor)
    camera_draw: np.ndarray  # (N,) int index of the image-side DR draw
    region: np.ndarray  # (N,) str: start or frame
    area_ratio: np.ndarray  # (N,) the estimate's area ratio; NaN: dropout
    arm_hidden: np.ndarray  # (N,) fraction of the sheet's in-view pixels the arm hides (from a render without it)
    qpos: np.ndarray  # (N, nq)


def run(args: Args, model: mujoco.MjModel,
        config: PaperRigConfig) -> tuple[Samples, list[dict[str, Any]], dict[str, Any]]:
    """Draws, renders and estimates the samples -> their results, the camera draws, and timings."""
    camera = CameraModel.from_mujoco(model, CAMERA, WIDTH, HEIGHT)  # nominal: what the estimator knows
    frame = TapeFrame.from_config(config)
    rng, data = np.random.default_rng(args.seed), mujoco.MjData(model)
    rows: list[tuple[np.ndarray, int, str, float, float, np.ndarray]] = []
    draws, timing = [], {"render_s": 0.0, "estimate_s": 0.0, "backend": ""}
    for g, first in enumerate(range(0, args.samples, args.states_per_camera)):
        n = min(args.states_per_camera, args.samples - first)
        regions = [REGIONS[(first + i) % 2] for i in range(n)]
        states = [draw_state(rng, model, data, config, r, args.arm_jitter) for r in regions]
        qpos = np.stack([q for q, _ in states])
        rendered, draw = jittered_model(model, rng, args)
        draws.append(draw)
        t = time.perf_counter()
        with render.BatchRenderer(rendered, cameras=(CAMERA,), height=HEIGHT, width=WIDTH) as renderer:
            images = renderer.render(qpos)[CAMERA]
            timing["backend"] = renderer.backend
        timing["render_s"] += time.perf_counter() - t
        with render.BatchRenderer(without_arm(rendered), cameras=(CAMERA,), height=HEIGHT, width=WIDTH) as renderer:
            bare = renderer.render(qpos)[CAMERA]
        for image, clear, (q, truth), region in zip(images, bare, states, regions):
            t = time.perf_counter()
            est = estimate_paper_in_frame(image, camera, config.paper_size, frame)
            timing["estimate_s"] += time.perf_counter() - t
            nominal = estimate_paper(image, camera, config.paper_size)
            sheet = white_mask(clear)
            hidden = 1.0 - (sheet & white_mask(image)).sum() / max(sheet.sum(), 1)
            rows.append((signed_error(est, truth), signed_error(nominal, truth), g, region, est.area_ratio if est else math.nan, hidden, q))
    columns = list(zip(*rows))
    samples = Samples(*(np.array(c) for c in columns))
    return samples, draws, timing


def worst_cases(s: Samples, count: int = 3) -> dict[str, list[dict[str, Any]]]:
    """The samples with the largest centre and yaw errors (and the dropouts): index, camera draw
    (an index into the record's camera_draws), signed error, area ratio and qpos, to replay them."""
    def case(i: int) -> dict[str, Any]:
        dropped = bool(np.isnan(s.error[i, 0]))
        return {"sample": int(i), "camera_draw": int(s.camera_draw[i]),
                "error": None if dropped else s.error[i].tolist(),
                "area_ratio": None if dropped else float(s.area_ratio[i]),
                "arm_hidden": float(s.arm_hidden[i]), "qpos": s.qpos[i].tolist()}

    err = s.error
    seen = np.flatnonzero(~np.isnan(err[:, 0]))
    centre = seen[np.argsort(-np.hypot(err[seen, 0], err[seen, 1]))[:count]]
    yaw = seen[np.argsort(-np.abs(err[seen, 2]))[:count]]
    return {"centre": [case(i) for i in centre], "yaw": [case(i) for i in yaw],
            "dropouts": [case(i) for i in np.flatnonzero(np.isnan(err[:, 0]))[:count]]}


def main(args: Args) -> dict[str, Any]:
    """Renders and estimates the states; returns the record (also printed, and written to --json)."""
    validate(args)
    config = PaperRigConfig(engine="c", num_envs=1)
    model = registry.make("paper_square", config).mj_model
    start = time.perf_counter()
    s, draws, timing = run(args, model, config)
    hidden = s.arm_hidden >= ARM_HIDDEN
    info = machine()
    record = {
        "command": (f"python -m benchmarks.paper_estimator --samples {args.samples} --states-per-camera "
                    f"{args.states_per_camera} --seed {args.seed} --arm-jitter {args.arm_jitter} "
                    f"--camera-pos-jitter {args.camera_pos_jitter} --camera-angle-jitter {args.camera_angle_jitter} "
                    f"--fovy-jitter {args.fovy_jitter} --light-jitter {args.light_jitter}"),
        "args": dataclasses.asdict(args), "image": [WIDTH, HEIGHT], "camera": CAMERA,
        "render_backend": timing["backend"],
        "all": error_stats(s.error),
        "by_region": {r: error_stats(s.error[s.region == r]) for r in REGIONS},
        "by_occlusion": {"clear": error_stats(s.error[~hidden]), "arm_hides_part": error_stats(s.error[hidden])},
        "arm_hides_part_fraction": float(hidden.mean()),
        "arm_hidden_mean_of_dropouts": float(s.arm_hidden[np.isnan(s.error[:, 0])].mean())
        if np.isnan(s.error[:, 0]).any() else None,
        "bias_and_noise": bias_and_noise(s.error, s.camera_draw),
        "nominal_camera_only": {"all": error_stats(s.error_nominal),
                                "bias_and_noise": bias_and_noise(s.error_nominal, s.camera_draw)},
        "estimate_ms_per_frame": 1000 * timing["estimate_s"] / args.samples,
        "render_ms_per_frame": 1000 * timing["render_s"] / args.samples,
        "wall_s": time.perf_counter() - start,
        "worst": worst_cases(s),
        "camera_draws": draws,
        "errors": [[None if np.isnan(v) else float(v) for v in row] for row in s.error],
        "arm_hides_part": hidden.tolist(),
        "machine": machine_line(info), "machine_tag": machine_tag(), "machine_info": info,
    }
    stats = record["all"]
    line = f"paper estimator, {args.samples} frames: dropout {stats['dropout_rate']:.1%}"
    if "centre_error_m" in stats:
        line += (f", centre error mean {1000 * stats['centre_error_m']['mean']:.1f} mm p95 "
                 f"{1000 * stats['centre_error_m']['p95']:.1f} mm, yaw error mean {stats['yaw_error_rad']['mean']:.4f} "
                 f"rad p95 {stats['yaw_error_rad']['p95']:.4f} rad")
    nominal = record["nominal_camera_only"]["all"]
    if "centre_error_m" in nominal:
        line += (f" (nominal camera alone: centre p95 {1000 * nominal['centre_error_m']['p95']:.1f} mm, "
                 f"dropout {nominal['dropout_rate']:.1%})")
    print(f"{line}; {record['wall_s']:.0f} s; {record['machine']}")
    write_record(args.json, record)
    if args.plot:
        plot_errors(s.error, hidden, f"paper-pose estimator, {args.samples} rendered frames over DR; {record['machine']}",
                    args.plot)
        print(f"wrote {args.plot}")
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
