"""The host side of `--base groot`: camera renderer + GR00T (`bridge.groot.policy.GrootBase`) as the
chunk planner of `mjx_gr00t.bases.chunked`, the record an export keeps of it, and its timing metrics.

    make = planner_factory(settings)                  # task -> planner; settings: a GrootSettings
    env = build_residual_env(scene, config, "groot", groot_planner=make)   # mjx_gr00t.residual_env
    train_step = with_groot_metrics(train_step, env, steps_per_iteration)
    spec = ExportSpec(..., groot=export_record(settings))   # what the export records about the base

Inside the jitted rollout one host call per step reaches `GrootChunkPlanner.__call__` with the
whole batch, and only when some env needs a chunk. It renders those envs' cameras (320 x 240, the
rig's frames, resized to 224 x 224 as on the robot),
asks GR00T for their (b, 16, 6) chunks in one batched, sub-batched query, and returns the old
chunks for the rest. The noise seed of a query is `call_seed` of the planned envs' seeds, which
JAX draws from each env's key in the env state: a rerun and a resume plan the same chunks.

torch is imported when a planner loads, so trainers without `--base groot` never load it.
"""

import atexit
import os
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before jax is imported)

import jax
import numpy as np

from bridge.groot.layout import (  # no torch
    DEFAULT_DENOISING_STEPS, KEY_MAPS, metadata_sha256, resolve_layout, resolve_version,
)
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.groot import GrootExport
from mjx_gr00t.groot_settings import GrootSettings

if TYPE_CHECKING:
    from mjx_gr00t.envs.base import EpisodeEnv

CAMERA_SIZE: int = 224
"""GR00T N1.5's image size."""
RENDER_SIZE: tuple[int, int] = (240, 320)
"""(height, width) the cameras are drawn at: the rig's frames, resized to CAMERA_SIZE as deployment
and fine-tuning resize them (`bridge.groot.frames`), so the base sees what it sees on the robot.
Drawn without multisampling (`BatchRenderer(antialias=False)`): 1.7x faster here, the pixels
differing only along edges from the antialiased frames `train.collect` writes."""


def export_record(settings: GrootSettings) -> GrootExport:
    """What an export must record about `settings`' GR00T base (see mjx_gr00t.export.groot): the keys
    after the key map, a local checkpoint's absolute path and the SHA-256 of its metadata.json."""
    layout = resolve_layout(settings.data_config, settings.key_map)
    local = settings.model is not None and os.path.isdir(settings.model)
    model = os.path.abspath(settings.model) if local else (settings.model or f"served at {settings.server}")
    return GrootExport(
        model=model, data_config=settings.data_config, embodiment_tag=settings.embodiment_tag,
        n_action_steps=settings.n_action_steps, video=layout.video, state=layout.state, action=layout.action,
        key_map=tuple(sorted(KEY_MAPS[settings.key_map].items())) if settings.key_map else (),
        key_map_name=settings.key_map, action_horizon=layout.action_horizon,
        denoising_steps=DEFAULT_DENOISING_STEPS, task=settings.task, image_size=(CAMERA_SIZE, CAMERA_SIZE),
        metadata_sha256=metadata_sha256(model) if local else None, version=recorded_version(settings, local),
    )


def recorded_version(settings: GrootSettings, local: bool) -> str | None:
    """The GR00T contract to record: a local checkpoint's files, else --groot.version, else the Hugging
    Face id's name; None when only a server knows it (served, --groot.version auto, an id that does
    not say)."""
    if local:
        return resolve_version(settings.version, settings.model, local=True)
    if settings.model is None:
        return None if settings.version == "auto" else settings.version
    try:
        return resolve_version(settings.version, settings.model, local=False)
    except ValueError:
        return None


def call_seed(seeds: np.ndarray) -> int:
    """The noise seed of one query from the planned envs' seeds (B,) uint32: crc32 of their bytes."""
    return zlib.crc32(np.ascontiguousarray(seeds, np.uint32).tobytes())


class GrootChunkPlanner:
    """Renderer + GrootBase behind `mjx_gr00t.bases.chunked.ChunkPlanner`.

    groot: a `bridge.groot.policy.GrootBase`. renderer: has
    `render(qpos (B, nq), image_dr (B, 8) or None) -> {camera: uint8 (B, H, W, 3)}` (resized to
    224 x 224 here; a
    `mjx_gr00t.render.BatchRenderer`), or a zero-argument factory of one. Both run on one worker
    thread of their own, so the GL context always lives on the same thread.
    """

    def __init__(self, groot: Any, renderer: Any) -> None:
        self.groot = groot
        self.horizon = int(groot.action_horizon)
        self.n_action_steps = int(groot.n_action_steps)
        self.cameras = tuple(dict.fromkeys(cam for _, cam in groot.layout.video))
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groot-planner")
        make = (lambda: renderer) if hasattr(renderer, "render") else renderer
        self.renderer = self._worker.submit(make).result()
        self._reset_stats()
        self.queries_total = 0
        atexit.register(self.close)

    def _reset_stats(self) -> None:
        self._queries, self._rows, self._plan_s, self._render_s = 0, 0, 0.0, 0.0

    def __call__(self, qpos: np.ndarray, joint_pos: np.ndarray, need: np.ndarray, chunks: np.ndarray,
                 seeds: np.ndarray, image_dr: np.ndarray | None = None) -> np.ndarray:
        """See `ChunkPlanner`: new chunks for the `need` rows, one batched GR00T query; the frames
        are rendered with each env's image DR draw (cameras and lights jittered)."""
        return self._worker.submit(self._plan, qpos, joint_pos, need, chunks, seeds, image_dr).result()

    def _plan(self, qpos: np.ndarray, joint_pos: np.ndarray, need: np.ndarray, chunks: np.ndarray,
              seeds: np.ndarray, image_dr: np.ndarray | None) -> np.ndarray:
        rows = np.flatnonzero(need)
        out = np.array(chunks, np.float32, copy=True)
        if rows.size == 0:
            return out
        t0 = time.perf_counter()
        draws = None if image_dr is None else np.ascontiguousarray(image_dr[rows])
        images = self.renderer.render(np.ascontiguousarray(qpos[rows]), draws)
        from bridge.groot.frames import to_groot_size  # torch: loaded with the planner's GrootBase already
        images = {cam: to_groot_size(frames) for cam, frames in images.items()}
        t1 = time.perf_counter()
        front = images[self.cameras[0]] if "front" not in images else images["front"]
        wrist = images.get("wrist", front)  # single-camera configs never read it
        planned = self.groot.plan(front, wrist, np.ascontiguousarray(joint_pos[rows]),
                                  seed=call_seed(seeds[rows]), fallback=np.ascontiguousarray(out[rows]))
        out[rows] = planned.detach().cpu().numpy()
        t2 = time.perf_counter()
        self._queries += 1
        self.queries_total += 1
        self._rows += rows.size
        self._render_s += t1 - t0
        self._plan_s += t2 - t1
        return out

    def pop_stats(self, env_steps: int) -> dict[str, float]:
        """Timing since the last call, over `env_steps` env steps (all envs), and resets it.

        groot/inference_time: s per chunk query (model, un-normalisation and transfers; NaN when
        there was none); groot/inference_time_per_env_step: all query seconds / env_steps;
        groot/render_time: s of rendering per query; groot/queries; groot/planned_envs (chunks
        planned); groot/nonfinite_envs (chunks replaced so far for non-finite values)."""
        q = self._queries
        stats = {
            "groot/inference_time": self._plan_s / q if q else float("nan"),
            "groot/inference_time_per_env_step": self._plan_s / max(env_steps, 1),
            "groot/render_time": self._render_s / q if q else float("nan"),
            "groot/queries": float(q),
            "groot/planned_envs": float(self._rows),
            "groot/nonfinite_envs": float(self.groot.nonfinite_envs),
        }
        self._reset_stats()
        return stats

    def close(self) -> None:
        """Closes the renderer and the worker thread; idempotent."""
        if self._worker is None:
            return
        worker, self._worker = self._worker, None
        close = getattr(self.renderer, "close", None)
        if close is not None:
            try:
                worker.submit(close).result()
            except RuntimeError:  # at interpreter exit the executor is already shut down
                pass
        worker.shutdown()


def load_planner(settings: GrootSettings, task: Any, renderer: Any = None) -> GrootChunkPlanner:
    """Loads the GR00T of `settings` and opens a renderer of `task`'s scene (its mj_model).

    renderer: None (a `mjx_gr00t.render.BatchRenderer` of the cameras the data config uses), an
    object with `render`, or a factory of one. UsageError for a checkpoint, a server or a renderer
    that cannot load, saying what to fix."""
    import torch

    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)  # torch shares the CPU with JAX's own threads
    try:
        groot = _load_groot(settings)
    except (FileNotFoundError, ValueError, ImportError, OSError) as e:  # OSError: TimeoutError, PermissionError
        where = f"--groot.server {settings.server!r}" if settings.server else f"--groot.model {settings.model!r}"
        raise UsageError(f"{where}: {e}") from e
    if renderer is None:
        cameras = tuple(dict.fromkeys(cam for _, cam in groot.layout.video))
        renderer = _batch_renderer_factory(task.mj_model, cameras)
    try:
        return GrootChunkPlanner(groot, renderer)
    except Exception as e:  # noqa: BLE001  (GL backends fail in many ways; all mean the same to the user)
        raise UsageError(
            f"--base groot renders camera images and could not open a renderer: {e}. On a CPU-only "
            "machine install OSMesa (Debian libosmesa6) and set MUJOCO_GL=osmesa") from e


def _load_groot(settings: GrootSettings) -> Any:
    """The `GrootBase` of `settings`: in this process, or over ZMQ with a server (token: $GROOT_API_TOKEN)."""
    if not settings.server:
        from bridge.groot.policy import GrootBase  # torch

        return GrootBase.from_pretrained(settings)
    from bridge.groot.client import groot_base_from_server  # torch, pyzmq
    from bridge.groot.wire import GrootServerError

    try:
        return groot_base_from_server(settings, api_token=os.environ.get("GROOT_API_TOKEN"))
    except GrootServerError as e:
        raise ValueError(str(e)) from e


def _batch_renderer_factory(mj_model: Any, cameras: tuple[str, ...]) -> Callable[[], Any]:
    def make() -> Any:
        from mjx_gr00t.render import BatchRenderer

        return BatchRenderer(mj_model, cameras=cameras, height=RENDER_SIZE[0], width=RENDER_SIZE[1], antialias=False)

    return make


def planner_factory(settings: GrootSettings) -> Callable[[Any], GrootChunkPlanner]:
    """`task -> planner` for `mjx_gr00t.bases.make_base('groot', task, groot_planner=...)`."""
    return lambda task: load_planner(settings, task)


def planner_of(env: "EpisodeEnv") -> GrootChunkPlanner | None:
    """The GrootChunkPlanner behind an env built with --base groot (`EpisodeEnv(ResidualTask(task,
    ChunkedJointBase(task, planner)))`), else None."""
    from mjx_gr00t.bases.chunked import ChunkedJointBase  # JAX modules of mjx_gr00t: not at the top
    from mjx_gr00t.residual import ResidualTask

    task = env.task
    if not (isinstance(task, ResidualTask) and isinstance(task.base, ChunkedJointBase)):
        return None
    return task.base.planner if isinstance(task.base.planner, GrootChunkPlanner) else None


def with_groot_metrics(train_step: Callable[[Any], tuple[Any, dict[str, Any]]], env: "EpisodeEnv",
                       steps_per_iteration: int) -> Callable[[Any], tuple[Any, dict[str, Any]]]:
    """`train_step` whose metrics also hold the planner's `pop_stats` of that iteration (unchanged
    without a GR00T base). The jitted step stays one call; the stats are read once it finishes."""
    planner = planner_of(env)
    if planner is None:
        return train_step

    def step(state: Any) -> tuple[Any, dict[str, Any]]:
        state, metrics = train_step(state)
        jax.block_until_ready(metrics)
        return state, {**metrics, **planner.pop_stats(steps_per_iteration)}

    return step
