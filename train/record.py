"""Record a trained policy as a side-by-side video: the top ("front") camera | the wrist camera.

    python -m train.record --run runs/ppo-paper_square-ik-... --episodes 4 --out video.mp4
    python -m train.record --run DIR --base-only --out base.mp4      # the base policy alone

The episodes are those `train.evaluate --run DIR --episodes N --seed S` scores (same seed, same
initial states and DR draws). They run in parallel in one jitted rollout, deterministic policy
(base + alpha * residual, or the base alone), then every policy step is rendered (`mjx_gr00t.render`)
and the episodes follow one another in the video. A frame shows what the cameras saw when the
policy acted, so an episode of L policy steps gives L frames, at the policy rate by default (30 Hz
on paper_square: real time). A scene without a wrist camera (the Fetch-like ones have "front"
only) records the cameras it has. Rendering dominates the time on a CPU (OSMesa): 0.1-0.2 s a
video frame (both views, 224 x 224) on a busy 2-core machine; `--size 96` saves about a third.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)
from mjx_gr00t import render  # before anything loads mujoco: it picks the GL backend

import dataclasses
import functools
import os
import warnings
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import imageio.v2 as imageio
import jax
import jax.numpy as jnp
import numpy as np
from mjx_gr00t import cli_args
from tqdm import tqdm

from mjx_gr00t.envs.base import EpisodeEnv, State
from bridge.groot import planner
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner.finish import residual_act
from mjx_gr00t.runner.trained import load_trained

DEFAULT_CAMERAS: tuple[str, ...] = ("front", "wrist")


@dataclasses.dataclass(frozen=True)
class Args:
    """Record a trained policy as a side-by-side front | wrist camera video (mp4)."""

    run: str
    """Run directory (the --out of train.residual_ppo / train.residual_sac)."""
    out: str = "video.mp4"
    """The mp4 to write (its directory must exist)."""
    episodes: int = 1
    """Episodes to record, one after another in the video."""
    seed: int = 1_000_000
    """Seed of the initial states and DR draws (train.evaluate's default: the held-out episodes)."""
    base_only: bool = False
    """Record the base policy alone (alpha 0) instead of base + residual."""
    fps: float | None = None
    """Frames per second of the video. Default: the env's policy rate (30 on paper_square: real time)."""
    size: int = 224
    """Height and width of each camera view, pixels (even); the video is len(cameras) x size wide."""
    cameras: tuple[str, ...] | None = None
    """Cameras, left to right. Default: those of front, wrist that the scene has."""
    max_steps: int | None = None
    """Cut each episode after this many policy steps (default: the env's time limit)."""
    backend: Literal["auto", "osmesa", "egl", "glfw", "warp"] = "auto"
    """Renderer (see mjx_gr00t.render): auto picks warp on a CUDA GPU with warp-lang, else $MUJOCO_GL,
    else egl with an NVIDIA device, else osmesa."""


class Rollout(NamedTuple):
    """qpos: [T, N, nq] positions each policy step acted from. length: [N] steps of each episode
    (<= T). success: [N] 1 where the episode succeeded within T steps."""

    qpos: np.ndarray
    length: np.ndarray
    success: np.ndarray


def rollout(env: EpisodeEnv, act: Any, params: Any, episodes: int, seed: int, steps: int) -> Rollout:
    """One deterministic episode per env for at most `steps` policy steps, keys drawn as in
    `mjx_gr00t.evaluation.run_episodes`, so a seed gives the episodes evaluate scores."""
    qpos, length, success = _compiled_rollout(env, act, episodes, steps)(params, jax.random.PRNGKey(seed))
    return Rollout(np.asarray(qpos), np.asarray(length), np.asarray(success))


@functools.lru_cache(maxsize=4)
def _compiled_rollout(env: EpisodeEnv, act: Any, episodes: int, steps: int) -> Any:
    def run(params: Any, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        k_reset, k_act = jax.random.split(key)
        state = jax.vmap(env.reset)(jax.random.split(k_reset, episodes))

        def body(carry: tuple[State, jax.Array, jax.Array, jax.Array], key: jax.Array) -> tuple[Any, jax.Array]:
            s, finished, length, success = carry
            nxt = jax.vmap(env.step)(s, act(params, s, key))
            ends = (nxt.done > 0.5) & ~finished
            length = jnp.where(finished, length, length + 1)
            success = jnp.where(ends, nxt.success, success)
            return (nxt, finished | ends, length, success), s.physics.qpos

        zeros = jnp.zeros(episodes, jnp.int32)
        keys = jax.random.split(k_act, env.episode_length)[:steps]
        carry = (state, jnp.zeros(episodes, bool), zeros, jnp.zeros(episodes, jnp.float32))
        (_, _, length, success), qpos = jax.lax.scan(body, carry, keys)
        return qpos, length, success

    return jax.jit(run)


def frames(renderer: render.BatchRenderer, qpos: np.ndarray, chunk: int = 16) -> Iterator[np.ndarray]:
    """qpos [L, nq] -> L frames uint8 [size, len(cameras) * size, 3], cameras side by side."""
    for start in range(0, len(qpos), chunk):
        views = renderer.render(qpos[start:start + chunk])
        yield from np.concatenate([views[c] for c in renderer.cameras], axis=2)


def record(args: Args) -> dict[str, Any]:
    """Rolls out, renders and writes args.out. Returns {"out", "frames", "fps", "cameras", "length",
    "success"} (length and success per episode)."""
    _validate(args)
    trained = load_trained(args.run, groot=planner)
    env = trained.env
    model = env.mj_model
    have = render.camera_names(model)
    cameras = args.cameras or tuple(c for c in DEFAULT_CAMERAS if c in have)
    missing = [c for c in cameras if c not in have]
    if missing or not cameras:
        raise UsageError(f"scene {trained.config.scene.scene!r} has no camera {missing or list(DEFAULT_CAMERAS)}; "
                                 f"its cameras are {list(have)} (pass --cameras with some of them)")
    if "wrist" not in cameras and args.cameras is None:
        print(f"note: scene {trained.config.scene.scene!r} has no wrist camera; recording {list(cameras)}")
    fps = args.fps or env.spec.policy_hz
    steps = min(args.max_steps or env.episode_length, env.episode_length)
    alpha = 0.0 if args.base_only else float(trained.config.residual.alpha)
    policy = "base alone" if args.base_only else f"base + {alpha:g} x residual"
    print(f"rolling out {args.episodes} episode(s) of {trained.config.scene.scene}, {trained.config.scene.base} {policy} ...")
    result = rollout(env, residual_act(trained.policy_fn), (trained.params, jnp.float32(alpha)),
                     args.episodes, args.seed, steps)
    try:
        renderer = render.BatchRenderer(model, cameras, args.size, args.size, args.backend)
    except render.RenderBackendError as e:
        raise UsageError(str(e)) from e
    total = int(result.length.sum())
    try:
        with warnings.catch_warnings():
            # imageio starts ffmpeg by fork + exec: JAX's threads are no risk to a process that execs at once.
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            with imageio.get_writer(args.out, fps=fps, codec="libx264", macro_block_size=2) as writer, \
                    tqdm(total=total, desc="rendering", unit="frame") as bar:
                for i, length in enumerate(result.length):
                    for frame in frames(renderer, result.qpos[:length, i]):
                        writer.append_data(frame)
                        bar.update()
    finally:
        renderer.close()
    for i, (length, ok) in enumerate(zip(result.length, result.success)):
        print(f"episode {i}: {int(length)} steps, {'success' if ok > 0.5 else 'no success'}")
    print(f"wrote {args.out}: {total} frames at {fps:g} fps, {' | '.join(cameras)}")
    return {"out": args.out, "frames": total, "fps": fps, "cameras": cameras,
            "length": result.length.tolist(), "success": (result.success > 0.5).tolist()}


def _validate(args: Args) -> None:
    """UsageError for flags that cannot work, before anything slow runs."""
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.size < 16 or args.size % 2:
        raise UsageError(f"--size must be an even number >= 16 (H.264 needs even sizes), got {args.size}")
    if args.fps is not None and not args.fps > 0:
        raise UsageError(f"--fps must be > 0, got {args.fps}")
    if args.max_steps is not None and args.max_steps < 1:
        raise UsageError(f"--max-steps must be >= 1, got {args.max_steps}")
    if args.backend not in render.BACKENDS:
        raise UsageError(f"--backend must be one of {list(render.BACKENDS)}, got {args.backend!r}")
    if not args.out.lower().endswith(".mp4"):
        raise UsageError(f"--out must name an .mp4 file, got {args.out!r}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise UsageError(f"--out {args.out!r}: its directory does not exist")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Entry point of `python -m train.record`."""
    return record(cli_args.cli(Args, args=argv))


if __name__ == "__main__":
    main()
