"""Sim demonstrations on the paper rig's twin, written as a LeRobot dataset (v2.1, which Isaac-GR00T
reads, or v3.0 with --format; both with Isaac-GR00T's meta/modality.json) for fine-tuning GR00T
in-domain.

    python -m train.collect --out data/paper_sim --episodes 50                 # the IK drag base
    python -m train.collect --out data/paper_sim_rl --run runs/ppo-...         # a run's base + residual

Rolls out `--num-envs` episodes at a time with DR on (each episode its own physics, servo, camera
and light draw), renders the top (`observation.images.main`) and wrist (`observation.images.secondary_0`)
cameras at 320 x 240 from every step, and writes the episodes it keeps (`--keep successes`, or `all`
with the per-frame `next.success` flag) until the dataset holds `--episodes`. 30 fps,
`observation.state` (the servos' reading) and `action` (the goal sent) in LeRobot's units, joints
named motor_1 .. motor_6 as in the real paper-return data (`--names lerobot`: shoulder_pan.pos ...).

Interrupt it at any time and run the same command again: it continues at the next episode with the
same draws, and an episode cut off mid-write never enters the dataset's index. A directory that
holds anything else is refused. At the end it reports the collection rate (also in
meta/collect.json).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os
import sys
import time
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from mjx_gr00t import cli_args
from tqdm import tqdm

from bridge.groot import planner
from mjx_gr00t.collect import progress
from mjx_gr00t.collect.episodes import dataset_episode
from mjx_gr00t.collect.rollout import make_rollout
from mjx_gr00t.datasets.lerobot_v21 import V21Writer
from mjx_gr00t.datasets.lerobot_v30 import V30Writer
from mjx_gr00t.datasets.spec import DatasetSpec
from mjx_gr00t.deploy.robot import JointUnits
from mjx_gr00t.errors import UsageError
from mjx_gr00t.groot_settings import GrootSettings
from mjx_gr00t.machine import machine, machine_line
from mjx_gr00t.render import BatchRenderer, RenderBackendError
from mjx_gr00t.residual_env import build_residual_env, scene_task
from mjx_gr00t.runner.build import scene_config
from mjx_gr00t.runner.config import SceneSettings
from mjx_gr00t.runner.finish import residual_act
from mjx_gr00t.runner.trained import load_trained

WRITERS = {"v2.1": V21Writer, "v3.0": V30Writer}
OSMESA_HINT = ("train.collect renders the rig's cameras and needs an OpenGL backend; on a CPU-only Linux machine "
               "install OSMesa (`sudo apt-get install -y libosmesa6`, which `bash setup.sh` does as root) and set "
               "MUJOCO_GL=osmesa")


@dataclasses.dataclass(frozen=True)
class Args:
    """Collect sim demonstrations on the paper rig's twin as a LeRobot dataset."""

    out: str
    """Dataset directory: new, empty, or an interrupted collection to continue."""
    episodes: int = 20
    """Episodes the dataset should hold when done."""
    run: str | None = None
    """A training run (train.residual_ppo / residual_sac --out) whose base + residual acts; default:
    the base alone."""
    base: Literal["ik"] = "ik"
    """The base that acts without --run: the IK drag base."""
    keep: Literal["successes", "all"] = "successes"
    """Which episodes to write: successes only, or all (each frame's next.success says which)."""
    num_envs: int = 16
    """Episodes rolled out at a time."""
    seed: int = 0
    """Seed of the episodes' draws (the same seed gives the same dataset)."""
    task: str = GrootSettings().task
    """The task text stored with every episode."""
    format: Literal["v2.1", "v3.0"] = "v2.1"
    """LeRobot dataset version: v2.1 (what Isaac-GR00T reads, and the real paper-return data's) or
    v3.0 (what current LeRobot reads)."""
    names: Literal["motor", "lerobot"] = "motor"
    """Joint names: motor_1 .. motor_6 (as the real paper-return data) or LeRobot's <joint>.pos."""
    scene_options: tuple[str, ...] = ()
    """Further fields of the twin's config without --run, NAME=VALUE (as train.residual_ppo's)."""
    max_attempts: int | None = None
    """Give up after this many episodes rolled out (default: 20 x --episodes)."""


def validate(args: Args) -> None:
    """UsageError (one line saying what to fix) for a bad flag or an output that is not ours."""
    for name in ("episodes", "num_envs"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.max_attempts is not None and args.max_attempts < 1:
        raise UsageError(f"--max-attempts must be >= 1, got {args.max_attempts}")
    if args.run and args.scene_options:
        raise UsageError("--scene-options is for the base alone; a --run acts on the scene it was trained on")
    if os.path.exists(args.out):
        if not os.path.isdir(args.out):
            raise UsageError(f"--out {args.out!r} is a file; give a directory")
        if os.listdir(args.out) and progress.load(args.out) is None:
            raise UsageError(f"--out {args.out!r} is not empty and holds no collection to continue; "
                             "give a new or empty directory (nothing was written)")


def build(args: Args):
    """(env, act, params, source) of what acts: the base alone, or a run's base + residual."""
    if args.run:
        trained = load_trained(args.run, groot=planner)
        if trained.config.scene.scene != "paper_square":
            raise UsageError(f"--run {args.run!r} was trained on {trained.config.scene.scene}; "
                             "collection is for the paper rig's twin (paper_square)")
        env = trained.env
        params = (trained.params, jnp.float32(trained.config.residual.alpha))
        return env, residual_act(trained.policy_fn), params, f"run:{os.path.abspath(args.run)}"
    config = scene_config(SceneSettings(base=args.base, scene_options=args.scene_options), args.num_envs)
    env = build_residual_env("paper_square", config, args.base)

    def base_alone(params, states, key):
        return jnp.zeros(states.obs.shape[:-1] + (env.spec.action_size,), jnp.float32)

    return env, base_alone, (), f"base:{args.base}"


def collect(args: Args) -> dict:
    """Collects until the dataset holds `args.episodes`; returns meta/collect.json's record."""
    validate(args)
    env, act, params, source = build(args)
    task = scene_task(env)
    if task.config.policy_hz != 30:
        raise UsageError(f"the dataset is 30 fps; this scene steps at {task.config.policy_hz} Hz")
    asked = progress.CollectState(seed=args.seed, num_envs=args.num_envs, keep=args.keep, source=source)
    state = progress.load(args.out) or asked
    differ = state.same_collection(asked)
    if differ:
        raise UsageError(f"--out {args.out!r} continues a collection with other settings: {', '.join(differ)}; "
                         "use the same flags, or a new directory")
    try:
        renderer = BatchRenderer(task.mj_model, cameras=("front", "wrist"), height=240, width=320)
    except RenderBackendError as e:
        raise UsageError(f"{OSMESA_HINT} ({str(e).splitlines()[0]})") from e
    try:
        writer = WRITERS[args.format](args.out, DatasetSpec(names=args.names))
    except ValueError as e:
        raise UsageError(f"--out {args.out!r}: {e}") from e
    units = JointUnits.nominal(task.mj_model.jnt_range[:6])
    rollout = make_rollout(env, act)
    batch, taken = state.resume_point(writer.episodes)
    state = dataclasses.replace(state, episodes=writer.episodes, batch=batch, taken=taken)
    limit = args.max_attempts or 20 * args.episodes
    print(f"collecting {args.episodes} episodes ({args.keep}) from {source} into {args.out}; "
          f"{writer.episodes} already there", flush=True)
    started, wall_before = time.perf_counter(), state.wall_s
    traj, looked, finished = None, 0, True
    with renderer, tqdm(total=args.episodes, initial=min(writer.episodes, args.episodes), unit="episode") as bar:
        while writer.episodes < args.episodes:
            if state.attempted >= limit:
                raise UsageError(f"gave up after {state.attempted} episodes rolled out, {writer.episodes} kept; "
                                 "raise --max-attempts or use --keep all")
            keys, key = state.keys(state.batch)
            traj = jax.device_get(rollout(params, keys, key))
            kept, finished, looked = 0, True, 0
            for b in range(args.num_envs):
                looked = b
                episode = traj.episode(b)
                if args.keep == "successes" and not episode["success"][-1] > 0.5:
                    continue
                kept += 1
                if kept <= state.taken:
                    continue  # written before an interruption
                if writer.episodes >= args.episodes:
                    finished = False  # the rest of this batch waits for a longer collection
                    break
                looked = b + 1
                states, actions, frames, flags = dataset_episode(episode, units, renderer)
                writer.add_episode(states, actions, frames, args.task, {"next.success": flags})
                state = dataclasses.replace(state, taken=kept, episodes=writer.episodes,
                                            wall_s=wall_before + time.perf_counter() - started)
                progress.save(args.out, state)
                bar.update(1)
            if finished:
                n = int(traj.length.shape[0])
                state = dataclasses.replace(
                    state, batch=state.batch + 1, taken=0, attempted=state.attempted + n,
                    succeeded=state.succeeded + int((traj.success[np.arange(n), traj.length - 1] > 0.5).sum()),
                    wall_s=wall_before + time.perf_counter() - started)
                progress.save(args.out, state)
    # The last batch's episodes looked at so far count too (the state keeps whole batches only, as
    # a longer collection goes on with the rest of that batch).
    tail = [] if traj is None or finished else traj.success[np.arange(looked), traj.length[:looked] - 1] > 0.5
    attempted, succeeded = state.attempted + len(tail), state.succeeded + int(np.sum(tail))
    rate = 60.0 * writer.episodes / state.wall_s if state.wall_s > 0 else None
    record = {**state.to_dict(), "episodes_per_min": rate, "frames": writer.frames, "rolled_out": attempted,
              "success_rate_rolled_out": succeeded / attempted if attempted else None,
              "machine": machine_line(machine())}
    progress.save(args.out, state, {k: record[k] for k in ("episodes_per_min", "frames", "rolled_out",
                                                          "success_rate_rolled_out", "machine")})
    print(f"{writer.episodes} episodes, {writer.frames} frames in {args.out}; rolled out {attempted} "
          f"({succeeded} successes); {state.wall_s / 60:.1f} min, "
          f"{rate or 0:.1f} episodes/min on {record['machine']}")
    return record


def main(argv: list[str] | None = None) -> dict:
    args = cli_args.cli(Args, args=argv)
    try:
        return collect(args)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command to continue ({args.out})", file=sys.stderr)
        raise SystemExit(130)


if __name__ == "__main__":
    main()
