"""Does the thin sheet survive a fingertip? Randomised pushes and drags on the paper rig, per engine.

    python -m benchmarks.paper_contact --episodes 10000 --engine c --json benchmarks/results/paper_contact_c_cpu2.json

Each episode draws the sheet's pose and the rig's DR (friction, mass, servo gain, backlash,
latency) as training does, and one scripted probe of the fixed jaw's rubber fingertip:
- a drag (70 %): descend onto a random point of the sheet, press it `depth` below the sheet's top
  (0 to 6 mm by command: the servo then presses with whatever force its stiffness gives, up to
  stall), and drag it 3 to 15 cm in a random direction at a random speed;
- a push (30 %): descend just outside a random edge, at table height or pressing into the table,
  and push across the edge into the sheet.
The probe is steered by the drag base's IK (`RigDragBase.joint_step`) on a timetable (hover, descend,
move). Every policy step is checked:
- launched: the sheet's centre more than 2 mm above the table, or tilted more than 5 degrees;
- tunnelled: the fingertip's lowest point below the table while over the sheet (it went through
  the sheet), or the sheet's top still below the table's surface once the fingertip has lifted off
  (it went into the table);
- non-finite physics;
- jitter, reported beside them: the sheet moving up or down faster than 0.2 m/s at some step while
  squeezed (a velocity spike of the soft contacts that moves it less than the limits above), and
  pressed in: the sheet's top pushed below the table's surface at some step (soft contacts give
  under a hard press; it counts as tunnelled only if the sheet stays there).
Prints the rates with 95 % Wilson intervals and the engine's throughput; `--json` writes the record,
with the machine named and the launched, tunnelled and non-finite probes described (`cases`: index,
sheet pose, path, depth); `--only I J ...` replays those probes alone. Physics parameters are the scene's config (`envs.paper_rig_config`); pass
`--scene-options NAME=VALUE` to probe others.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import math
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from mjx_gr00t import cli_args

from benchmarks.common import machine_tag, write_record
from mjx_gr00t.bases.rig_drag import RigDragBase
from mjx_gr00t.envs import registry
from mjx_gr00t.envs.base import EpisodeEnv, State
from mjx_gr00t.envs.paper_rig import PaperRigTask
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import wilson
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.residual_env import scene_config
from mjx_gr00t.runner.build import scene_options

FAULTS = ("launched", "tunnelled", "non_finite", "jitter", "pressed_in")
MAX_CASES = 50
"""Most probes the record describes per fault (launched, tunnelled, non-finite)."""
HOVER_STEPS, DESCEND_STEPS, LIFT_STEPS = 35, 15, 12
"""Timetable of a probe, policy steps: move over the start point, descend onto it, move along the
path, and lift off for the last LIFT_STEPS."""


@dataclasses.dataclass(frozen=True)
class Args:
    """Randomised fingertip pushes and drags on the paper rig; launch and tunnel rates."""

    episodes: int = 2000
    """Probes (episodes), run `--batch` at a time."""
    batch: int = 500
    """Parallel envs."""
    steps: int = 110
    """Policy steps per probe (30 Hz)."""
    engine: str = "c"
    """Physics engine: c, mjx or warp."""
    seed: int = 0
    """Seed of the probes and DR draws."""
    scene_options: tuple[str, ...] = ()
    """Scene config overrides, NAME=VALUE (e.g. solver_iterations=10)."""
    only: tuple[int, ...] = ()
    """Replay just these probes (their indices in a run of this --seed, as its record lists them
    under `cases`), e.g. to look into the launched ones."""
    json: str | None = None
    """Also write the record to this JSON file (its directory must exist)."""


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe's plan, drawn per env: start and end of the fingertip's path (2,) each, and the
    commanded depth below the sheet's top (m), and whether it is a push (else a drag)."""

    start: jax.Array
    end: jax.Array
    depth: jax.Array
    is_push: jax.Array


def draw_probe(key: jax.Array, task: PaperRigTask, state: State) -> Probe:
    """A random drag or push of the sheet in `state` (see the module docstring)."""
    k = jax.random.split(key, 7)
    centre = state.physics.qpos[task.paper_qpos:task.paper_qpos + 2]
    yaw = task.paper_yaw(state.physics.qpos[task.paper_qpos + 3:task.paper_qpos + 7])
    rot = jnp.array([[jnp.cos(yaw), -jnp.sin(yaw)], [jnp.sin(yaw), jnp.cos(yaw)]])
    half = jnp.asarray(task.paper_half, jnp.float32)
    # Drag: a point inside the sheet, a random direction and length.
    inside = jax.random.uniform(k[0], (2,), minval=-0.8, maxval=0.8) * half
    angle = jax.random.uniform(k[1], (), minval=0.0, maxval=2 * math.pi)
    length = jax.random.uniform(k[2], (), minval=0.03, maxval=0.15)
    drag_start = centre + rot @ inside
    drag_end = drag_start + length * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
    # Push: just outside one of the four edges, then in across it.
    side = jax.random.randint(k[3], (), 0, 4)
    normal = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])[side]
    along = jax.random.uniform(k[4], (), minval=-0.7, maxval=0.7) * (half[::-1] * jnp.abs(normal[::-1])).sum()
    edge = normal * half + along * normal[::-1] * jnp.array([1.0, 1.0])
    push_start = centre + rot @ (edge + (task.tip_radius + 0.012) * normal)
    push_end = push_start - rot @ normal * jax.random.uniform(k[5], (), minval=0.03, maxval=0.12)
    is_push = jax.random.uniform(k[6]) < 0.3
    depth = jnp.where(is_push, jax.random.uniform(k[6], (), minval=-0.0005, maxval=0.003),
                      jax.random.uniform(k[2], (), minval=0.0, maxval=0.006))
    return Probe(start=jnp.where(is_push, push_start, drag_start), end=jnp.where(is_push, push_end, drag_end),
                 depth=depth, is_push=is_push)


def probe_goal(base: RigDragBase, probe: Probe, step: jax.Array, steps: int) -> jax.Array:
    """The tool's target (3,) at policy step `step` of the probe's timetable."""
    low = base.press_z + base.config.press_depth - probe.depth
    travel = steps - HOVER_STEPS - DESCEND_STEPS - LIFT_STEPS
    moving = jnp.clip((step - HOVER_STEPS - DESCEND_STEPS) / max(travel, 1), 0.0, 1.0)
    xy = probe.start + moving * (probe.end - probe.start)
    up = (step < HOVER_STEPS) | (step >= steps - LIFT_STEPS)
    z = jnp.where(up, base.config.hover_height, low)
    return jnp.concatenate([xy, z[None]])


def faults(task: PaperRigTask, state: State, tip_offset: jax.Array, paper_dof: int) -> jax.Array:
    """(5,) bools: launched, tunnelled, non-finite, jittering, pressed into the table (the sheet's
    top below the table's surface), for one env's state (see the module docstring).
    tip_offset: (3,) the fixed fingertip's centre in the tool frame; paper_dof: the sheet's qvel address."""
    q, v, a = state.physics.qpos, state.physics.qvel, task.paper_qpos
    z, quat, vz = q[a + 2], q[a + 3:a + 7], v[paper_dof + 2]
    normal_z = 1.0 - 2.0 * (quat[1] ** 2 + quat[2] ** 2) / jnp.maximum(jnp.sum(quat ** 2), 1e-12)
    launched = (z > 0.002) | (normal_z < math.cos(math.radians(5.0)))
    jitter = jnp.abs(vz) > 0.2
    tool, rot = task.tool_pose(q)
    tip = tool + rot @ tip_offset
    yaw = task.paper_yaw(quat)
    local = jnp.array([[jnp.cos(yaw), jnp.sin(yaw)], [-jnp.sin(yaw), jnp.cos(yaw)]]) @ (tip[:2] - q[a:a + 2])
    over = jnp.all(jnp.abs(local) < jnp.asarray(task.paper_half) - task.tip_radius)
    tunnelled = over & (tip[2] - task.tip_radius < -0.0002)
    finite = jnp.all(jnp.isfinite(q)) & jnp.all(jnp.isfinite(v))
    pressed_in = z < -task.paper_z
    return jnp.stack([launched & finite, tunnelled & finite, ~finite, jitter & finite, pressed_in & finite])


def make_batch_runner(env: EpisodeEnv, steps: int):
    """A jitted (keys (B, 2)) -> (B, 5) bools: whether each probe met each fault (see `faults`); a
    sheet left below the table's surface once the fingertip has lifted counts as tunnelled."""
    task: PaperRigTask = env.task
    base = RigDragBase(task)
    m = task.mj_model
    site_rot = np.asarray(task.chain.site_rot)
    tip_offset = jnp.asarray(site_rot.T @ np.array([0.0, 0.0, -(0.1050 - 0.0981)]), jnp.float32)
    paper_dof = int(m.jnt_dofadr[m.joint("paper").id])

    def one(key: jax.Array) -> jax.Array:
        k_reset, k_probe = jax.random.split(key)
        state = task.reset(k_reset)
        probe = draw_probe(k_probe, task, state)

        def body(carry, t):
            state, bad = carry
            state = task.step(state, base.joint_step(state, probe_goal(base, probe, t, steps)))
            found = faults(task, state, tip_offset, paper_dof)
            # Once non-finite, the env stays so; count its first failure only.
            physics = jax.tree.map(lambda x: jnp.where(jnp.isfinite(x), x, 0.0), state.physics)
            return (state.replace(physics=physics), bad | found), None

        (state, bad), _ = jax.lax.scan(body, (state, jnp.zeros(5, bool)), jnp.arange(steps))
        # Through the table: after the fingertip has lifted off, the sheet's top is still below it.
        below = state.physics.qpos[task.paper_qpos + 2] < -task.paper_z
        return bad.at[1].set(bad[1] | below)

    return jax.jit(jax.vmap(one))


def probe_keys(seed: int, index: np.ndarray) -> jax.Array:
    """(N, 2) keys of the probes `index` (N,): probe i's key is the i-th of one split of the seed,
    whatever the run's size, so `--only` replays a probe of any run exactly."""
    return jax.random.split(jax.random.PRNGKey(seed), int(np.max(index)) + 1)[np.asarray(index)]


def describe(task: PaperRigTask, key: jax.Array, index: int) -> dict[str, Any]:
    """One probe's plan, to replay and look into it: its index (for --only), the sheet's start pose and
    the fingertip's path and commanded depth."""
    k_reset, k_probe = jax.random.split(key)
    state = task.reset(k_reset)
    probe = draw_probe(k_probe, task, state)
    q = np.asarray(state.physics.qpos)
    a = task.paper_qpos
    return {"index": index, "sheet_xy": q[a:a + 2].tolist(),
            "sheet_yaw": float(task.paper_yaw(state.physics.qpos[a + 3:a + 7])),
            "start": np.asarray(probe.start).tolist(), "end": np.asarray(probe.end).tolist(),
            "depth_m": float(probe.depth), "push": bool(probe.is_push)}


def validate(args: Args) -> None:
    """UsageError (one line) for a bad flag."""
    if args.episodes < 1 or args.batch < 1 or args.steps <= HOVER_STEPS + DESCEND_STEPS:
        raise UsageError(f"--episodes and --batch must be >= 1 and --steps > {HOVER_STEPS + DESCEND_STEPS}")
    if any(i < 0 for i in args.only):
        raise UsageError(f"--only takes probe indices >= 0, got {args.only}")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise UsageError(f"--json {args.json!r}: its directory does not exist")


def main(args: Args) -> dict[str, Any]:
    """Runs the probes; returns the record (also printed, and written to --json)."""
    validate(args)
    batch = min(args.batch, args.episodes, len(args.only) or args.episodes)
    config = scene_config("paper_square", batch, args.engine, dr=True, overrides=scene_options(args.scene_options))
    env = registry.make("paper_square", config)
    run = make_batch_runner(env, args.steps)
    index = np.asarray(args.only) if args.only else np.arange(args.episodes)
    keys = probe_keys(args.seed, np.resize(index, -(-len(index) // batch) * batch))
    total = min(args.episodes, len(index))
    counts, done, start = np.zeros(5, int), 0, time.perf_counter()
    cases: dict[str, list[dict[str, Any]]] = {name: [] for name in FAULTS[:3]}
    run(keys[:batch]).block_until_ready()  # compile
    compiled = time.perf_counter()
    while done < total:
        bad = np.asarray(run(keys[done:done + batch]))[:total - done]
        counts += bad.sum(axis=0)
        for f, name in enumerate(FAULTS[:3]):
            for i in np.flatnonzero(bad[:, f]):
                if len(cases[name]) < MAX_CASES:
                    cases[name].append(describe(env.task, keys[done + i], int(index[done + i])))
        done += len(bad)
        print(f"  {done}/{total} probes: launched {counts[0]}, tunnelled {counts[1]}, non-finite {counts[2]}, "
              f"jitter {counts[3]}, pressed in {counts[4]}",
              flush=True)
    wall = time.perf_counter() - compiled
    rates = {name: {"count": int(c), "rate": c / done, "ci95": list(wilson(int(c), done))}
             for name, c in zip(FAULTS, counts)}
    info = machine()
    record = {
        "command": "python -m benchmarks.paper_contact " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in dataclasses.asdict(args).items() if k != "json" and v not in ((), None)),
        "engine": env.task.engine_name, "episodes": done, "policy_steps": args.steps, **rates, "cases": cases,
        "physics": {k: getattr(config, k) for k in ("physics_hz", "solver_iterations", "contact_solref",
                                                     "contact_solimp", "servo_kp", "paper_thickness")},
        "wall_s_after_compile": wall, "policy_steps_per_s": done * args.steps / wall,
        "physics_steps_per_s": done * args.steps * env.task.substeps / wall,
        "machine": machine_line(info), "machine_tag": machine_tag(), "machine_info": info,
    }
    print(f"{done} probes on {record['engine']}: launched {counts[0]}, tunnelled {counts[1]}, non-finite "
          f"{counts[2]}; {record['physics_steps_per_s']:.0f} physics steps/s; {record['machine']}")
    write_record(args.json, record)
    return record


if __name__ == "__main__":
    main(cli_args.cli(Args))
