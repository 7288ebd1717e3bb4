"""The host side of `--base groot`: camera renderer + GR00T (`bridge.groot`) as the chunk planner of
`mjx_gr00t.bases.chunked`, the trainer flags that configure it, and its timing metrics.

    spec = groot_spec(args)                           # None unless --base groot
    env = build_residual_env(..., groot=spec)         # loads the checkpoint, opens the renderer
    train_step = with_groot_metrics(train_step, env, steps_per_iteration)
    spec = ExportSpec(..., groot=groot_export_of(args))  # what the export records about the base

Inside the jitted rollout one host call per step reaches `GrootChunkPlanner.__call__` with the
whole batch, and only when some env needs a chunk. It renders those envs' cameras (224 x 224),
asks GR00T for their (b, 16, 6) chunks in one batched, sub-batched query, and returns the old
chunks for the rest. The noise seed of a query is `call_seed` of the planned envs' seeds, which
JAX draws from each env's key in the env state: a rerun and a resume plan the same chunks.

torch is imported lazily, so trainers without `--base groot` never load it.
"""

import atexit
import dataclasses
import os
import re
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import numpy as np

from bridge.groot_layout import DEFAULT_DENOISING_STEPS, KEY_MAPS, metadata_sha256, resolve_layout  # no torch
from mjx_gr00t.export_groot import GrootExport
from train.run_dir import UsageError

CAMERA_SIZE: int = 224
"""GR00T N1.5's image size; the renderer draws at it directly."""


@dataclasses.dataclass(frozen=True)
class GrootSpec:
    """What `--base groot` loads and how it plans (hashable: the env cache is keyed on it)."""

    model: str | None
    data_config: str = "so100_dualcam"
    key_map: str | None = None
    embodiment_tag: str = "new_embodiment"
    n_action_steps: int = 8
    max_batch: int = 64
    task: str = "Slide the paper into the red square."
    device: str = "cpu"
    torch_threads: int = 1
    server: str | None = None
    server_timeout_s: float = 60.0


def groot_spec(args: Any) -> GrootSpec | None:
    """The GrootSpec of a trainer's flags (RunFlags' --groot-*), None unless --base groot.

    UsageError for --base groot without --groot-model or --groot-server, and for --groot-* values
    that cannot work."""
    server = getattr(args, "groot_server", None)
    if args.base != "groot":
        if args.groot_model is not None or server is not None:
            flag = "--groot-model" if args.groot_model is not None else "--groot-server"
            raise UsageError(f"{flag} applies to --base groot only (this run has --base {args.base})")
        return None
    if not args.groot_model and not server:
        raise UsageError(
            "--base groot needs the GR00T torch bridge: pass --groot-model with a checkpoint directory or "
            "Hugging Face id (a tiny one for tests: python -m bridge.tiny --out DIR), or --groot-server "
            "tcp://HOST:5555 for a running GR00T inference server")
    if server and not re.fullmatch(r"(tcp://)?[^\s:/]+(:\d{1,5})?", server):
        raise UsageError(f"--groot-server must be tcp://HOST:PORT, e.g. tcp://gpu-box:5555, got {server!r}")
    timeout = float(getattr(args, "groot_timeout", 60.0))
    if not timeout > 0:
        raise UsageError(f"--groot-timeout must be > 0 seconds, got {timeout}")
    if not 1 <= args.groot_n_action_steps <= 16:
        raise UsageError(f"--groot-n-action-steps must be in 1..16 (GR00T's chunk), got {args.groot_n_action_steps}")
    if args.groot_max_batch < 1:
        raise UsageError(f"--groot-max-batch must be >= 1, got {args.groot_max_batch}")
    if args.groot_torch_threads < 0:
        raise UsageError(f"--groot-torch-threads must be >= 0, got {args.groot_torch_threads}")
    if not args.groot_task.strip():
        raise UsageError("--groot-task must be a non-empty instruction")
    if not re.fullmatch(r"cpu|cuda(:\d+)?", args.groot_device):
        raise UsageError(f"--groot-device must be 'cpu', 'cuda' or 'cuda:N', got {args.groot_device!r}")
    return GrootSpec(
        model=args.groot_model, data_config=args.groot_data_config, key_map=args.groot_key_map,
        embodiment_tag=args.groot_embodiment_tag, n_action_steps=args.groot_n_action_steps,
        max_batch=args.groot_max_batch, task=args.groot_task, device=args.groot_device,
        torch_threads=args.groot_torch_threads, server=server or None, server_timeout_s=timeout,
    )


def groot_export(spec: GrootSpec) -> GrootExport:
    """What an export must record about `spec`'s GR00T base (see mjx_gr00t.export_groot): the keys
    after the key map, a local checkpoint's absolute path and the SHA-256 of its metadata.json."""
    layout = resolve_layout(spec.data_config, spec.key_map)
    local = spec.model is not None and os.path.isdir(spec.model)
    model = os.path.abspath(spec.model) if local else (spec.model or f"served at {spec.server}")
    return GrootExport(
        model=model, data_config=spec.data_config, embodiment_tag=spec.embodiment_tag,
        n_action_steps=spec.n_action_steps, video=layout.video, state=layout.state, action=layout.action,
        key_map=tuple(sorted(KEY_MAPS[spec.key_map].items())) if spec.key_map else (),
        key_map_name=spec.key_map, action_horizon=layout.action_horizon,
        denoising_steps=DEFAULT_DENOISING_STEPS, task=spec.task, image_size=(CAMERA_SIZE, CAMERA_SIZE),
        metadata_sha256=metadata_sha256(model) if local else None,
    )


def groot_export_of(args: Any) -> GrootExport | None:
    """`groot_export` of a trainer's flags (RunFlags' --groot-*); None unless --base groot."""
    spec = groot_spec(args)
    return None if spec is None else groot_export(spec)


def call_seed(seeds: np.ndarray) -> int:
    """The noise seed of one query from the planned envs' seeds (B,) uint32: crc32 of their bytes."""
    return zlib.crc32(np.ascontiguousarray(seeds, np.uint32).tobytes())


class GrootChunkPlanner:
    """Renderer + GrootBase behind `mjx_gr00t.bases.chunked.ChunkPlanner`.

    groot: a `bridge.groot.GrootBase`. renderer: has `render(qpos (B, nq)) -> {camera: uint8
    (B, 224, 224, 3)}` (a `mjx_gr00t.render.BatchRenderer`), or a zero-argument factory of one. Both
    run on one worker thread of their own, so the GL context always lives on the same thread.
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
                 seeds: np.ndarray) -> np.ndarray:
        """See `ChunkPlanner`: new chunks for the `need` rows, one batched GR00T query."""
        return self._worker.submit(self._plan, qpos, joint_pos, need, chunks, seeds).result()

    def _plan(self, qpos: np.ndarray, joint_pos: np.ndarray, need: np.ndarray, chunks: np.ndarray,
              seeds: np.ndarray) -> np.ndarray:
        rows = np.flatnonzero(need)
        out = np.array(chunks, np.float32, copy=True)
        if rows.size == 0:
            return out
        t0 = time.perf_counter()
        images = self.renderer.render(np.ascontiguousarray(qpos[rows]))
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


def load_planner(spec: GrootSpec, task: Any, renderer: Any = None) -> GrootChunkPlanner:
    """Loads the checkpoint of `spec` and opens a renderer of `task`'s scene (its mj_model).

    renderer: None (a `mjx_gr00t.render.BatchRenderer` of the cameras the data config uses), an
    object with `render`, or a factory of one. UsageError for a checkpoint or a renderer that
    cannot load, saying what to fix."""
    import torch

    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)  # torch shares the CPU with JAX's own threads
    try:
        groot = _load_groot(spec)
    except (FileNotFoundError, ValueError, ImportError, OSError) as e:  # OSError: TimeoutError, PermissionError
        where = f"--groot-server {spec.server!r}" if spec.server else f"--groot-model {spec.model!r}"
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


def _load_groot(spec: GrootSpec) -> Any:
    """The `bridge.groot.GrootBase` of `spec`: in this process, or over ZMQ with --groot-server."""
    from bridge.groot import KEY_MAPS as MAPS, GrootBase, GrootConfig

    if not spec.server:
        return GrootBase.from_pretrained(
            spec.model, data_config=spec.data_config, embodiment_tag=spec.embodiment_tag, key_map=spec.key_map,
            n_action_steps=spec.n_action_steps, max_batch=spec.max_batch, device=spec.device, task=spec.task)
    from bridge.groot_zmq import GrootServerError, groot_base_from_server

    config = GrootConfig(
        data_config=spec.data_config, embodiment_tag=spec.embodiment_tag,
        key_map=tuple(sorted(MAPS[spec.key_map].items())) if spec.key_map else None,
        n_action_steps=spec.n_action_steps, max_batch=spec.max_batch, device=spec.device, task=spec.task)
    try:
        return groot_base_from_server(spec.server, config, metadata=spec.model,
                                      api_token=os.environ.get("GROOT_API_TOKEN"), timeout_s=spec.server_timeout_s)
    except GrootServerError as e:
        raise ValueError(str(e)) from e


def _batch_renderer_factory(mj_model: Any, cameras: tuple[str, ...]) -> Callable[[], Any]:
    def make() -> Any:
        from mjx_gr00t.render import BatchRenderer

        return BatchRenderer(mj_model, cameras=cameras, height=CAMERA_SIZE, width=CAMERA_SIZE)

    return make


def planner_factory(spec: GrootSpec) -> Callable[[Any], GrootChunkPlanner]:
    """`task -> planner` for `mjx_gr00t.bases.make_base('groot', task, groot_planner=...)`."""
    return lambda task: load_planner(spec, task)


def planner_of(env: Any) -> GrootChunkPlanner | None:
    """The GrootChunkPlanner behind an env built with --base groot, else None."""
    planner = getattr(getattr(getattr(env, "task", None), "base", None), "planner", None)
    return planner if isinstance(planner, GrootChunkPlanner) else None


def with_groot_metrics(train_step: Callable[[Any], tuple[Any, dict[str, Any]]], env: Any,
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
