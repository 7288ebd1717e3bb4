"""Time per GR00T chunk query, part by part, and the bridge's own share of it.

    python -m benchmarks.bridge_latency                          # 256 and 1024 envs on a CPU
    python -m benchmarks.bridge_latency --num-envs 64 --repeats 3 --render-envs 8

One query plans a new (16, 6) chunk for every one of B paper_square envs, as the `--base groot`
trainer does when all envs need one (after a reset). Its parts, each timed with the device synced:
1. render: front and wrist cameras of each env's pose drawn as the chunk planner draws them (the
   rig's 320 x 240, no multisampling, `BatchRenderer`) and resized to 224 x 224 uint8
   (`bridge.groot.frames.to_groot_size`), then the images put in JAX arrays on the device, where a device renderer (Warp) leaves them. The host
   buffers are 64-byte aligned, which JAX on a CPU shares; the copy JAX makes of numpy's own
   (unaligned) arrays is timed apart, not in the total (`render_to_jax_unaligned_s`);
2. to-torch: `GrootBase.plan` taking the images, joint positions (B, 6) and fallback chunks
   (B, 16, 6) from JAX to torch by DLPack, with its input checks;
3. model: state normalisation, the policy's forward in sub-batches of --max-batch (fresh noise per
   query, as the trainer seeds it), un-normalisation, the non-finite repair;
4. to-JAX: the (B, 16, 6) chunk back to JAX by DLPack;
5. write-back: the chunk written into the envs' `ChunkCarry` (a jitted select, the update
   `ChunkedJointBase.plan` makes after its host call).
Parts 2-4 are `GrootBase.last_timing`; the whole `plan` call is also timed from outside
(`plan_wall_s`) as a check. The bridge's overhead is to-torch + to-JAX + write-back, given as a
share of the whole query (`overhead_pct`, the issue's target: under 5 %) and of the query without
rendering (`overhead_pct_without_render`).

OpenGL (OSMesa on a CPU) draws env after env, so its time is linear in B (about 33 ms per env for
both cameras on a 2-core EPYC). `--render-envs N` draws N envs per query and scales the draw time
by B / N, and the record says so (`render_extrapolated`, `render_envs_drawn`). The drawn images are
tiled to B envs (untimed); everything else runs on the full batch.

The model is the tiny GR00T-contract checkpoint (`bridge.tiny`, random weights) unless --model
names another. Median and range over --repeats timed queries after --warmup untimed ones; the
process's CPU seconds per wall second show how much other jobs took. JSON and a PNG (stacked bars)
go to benchmarks/results/bridge_latency_<machine tag>.*.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os
import re
import statistics
import tempfile
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from mjx_gr00t import cli_args

from benchmarks.bridge_latency_report import NOTES, OVERHEAD_PARTS, PARTS, plot_parts, summary_line, write_json
from benchmarks.common import compile_count, machine_tag
from bridge.dlpack import XLA_CPU_ALIGNMENT, aligned_empty
from mjx_gr00t.errors import UsageError
from mjx_gr00t.machine import machine, machine_line

CPU_SIZES: tuple[int, ...] = (256, 1024)
GPU_SIZES: tuple[int, ...] = (1024, 4096)
TARGET_PCT: float = 5.0
SCENE: str = "paper_square"


@dataclasses.dataclass(frozen=True)
class Args:
    """Per-chunk-query latency of the GR00T bridge (render, to-torch, model, to-JAX, write-back) and
    the bridge's share of it, at training batch sizes."""

    num_envs: tuple[int, ...] | None = None
    """Batch sizes (envs planning at once), e.g. --num-envs 256 1024. Default: 256 1024 on a
    CPU-only machine; 1024 4096 when JAX sees an accelerator."""
    repeats: int = 5
    """Timed chunk queries per batch size (median and range are reported)."""
    warmup: int = 1
    """Untimed queries per batch size before timing (torch and XLA warm-up, jit compile)."""
    render_envs: int = 32
    """Envs actually drawn per query; the draw time is scaled by num_envs / render_envs (recorded
    as extrapolated). 0: draw every env (OSMesa on a 2-core EPYC: about 36 ms per env, 37 s at 1,024)."""
    render_backend: str = "auto"
    """Rendering backend of mjx_gr00t.render: auto, osmesa, egl, glfw or warp."""
    model: str | None = None
    """GR00T checkpoint directory or Hugging Face id; default: a tiny bridge.tiny checkpoint written
    to a temporary directory."""
    max_batch: int = 64
    """Largest sub-batch the model sees at once (the trainer's --groot.max-batch default)."""
    n_action_steps: int = 8
    """Chunk steps executed per query (1..16); only scales the per-env-step figure."""
    torch_threads: int = 1
    """torch CPU threads (the trainer's --groot.torch-threads default); 0 keeps torch's default."""
    device: str = "auto"
    """torch device of the model: auto (cuda when torch and JAX both see a GPU, else cpu), cpu,
    cuda or cuda:N."""
    out: str | None = None
    """JSON path; the PNG goes beside it. Default benchmarks/results/bridge_latency_<machine tag>.json."""
    plot: bool = True
    """Also write the stacked-bar PNG."""
    seed: int = 0
    """Seeds the env start states and the model's noise."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """The validated choices of a run."""

    sizes: tuple[int, ...]
    device: str
    json_path: str
    png_path: str


def accelerator_present() -> bool:
    """Whether JAX's default backend is not the CPU."""
    return jax.default_backend() != "cpu"


def plan(args: Args) -> Plan:
    """Checks the flags (UsageError saying what to fix) and fills in the defaults."""
    sizes = args.num_envs if args.num_envs is not None else (GPU_SIZES if accelerator_present() else CPU_SIZES)
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--num-envs needs batch sizes >= 1, got {list(sizes)}")
    for ok, message in (
        (args.repeats >= 1, f"--repeats must be >= 1, got {args.repeats}"),
        (args.warmup >= 0, f"--warmup must be >= 0, got {args.warmup}"),
        (args.render_envs >= 0, f"--render-envs must be >= 0 (0: draw every env), got {args.render_envs}"),
        (args.max_batch >= 1, f"--max-batch must be >= 1, got {args.max_batch}"),
        (args.torch_threads >= 0, f"--torch-threads must be >= 0, got {args.torch_threads}"),
        (1 <= args.n_action_steps <= 16, f"--n-action-steps must be in 1..16, got {args.n_action_steps}"),
    ):
        if not ok:
            raise UsageError(message)
    from mjx_gr00t.render import BACKENDS

    if args.render_backend not in BACKENDS:
        raise UsageError(f"--render-backend {args.render_backend!r}: choose from {', '.join(BACKENDS)}")
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", args.device):
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, got {args.device!r}")
    if args.model is not None:
        from bridge.groot.layout import checkpoint_kind

        try:
            checkpoint_kind(args.model)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(f"--model {args.model!r}: {e}") from e
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() and jax.default_backend() == "gpu" else "cpu"
    json_path = args.out or os.path.join("benchmarks", "results", f"bridge_latency_{machine_tag()}.json")
    return Plan(tuple(int(n) for n in sizes), device, json_path, os.path.splitext(json_path)[0] + ".png")


# ---------------------------------------------------------------------------------------------
# The workload


def start_poses(num_envs: int, seed: int) -> tuple[np.ndarray, Any]:
    """(qpos (num_envs, nq) float32 of fresh paper_square episodes (DR on), the scene's MjModel)."""
    from benchmarks.throughput_figures import Spec, plain_env

    env = plain_env(Spec(SCENE, "c", num_envs, True))
    keys = jax.random.split(jax.random.PRNGKey(seed), num_envs)
    state = jax.jit(jax.vmap(env.reset))(keys)
    return np.asarray(state.physics.qpos, np.float32), env.mj_model


def write_back(carry: Any, chunk: jax.Array, need: jax.Array) -> Any:
    """The batch's ChunkCarry after a query: `chunk` (B, 16, 6) where `need` (B,), index reset to 0
    there (as `ChunkedJointBase.plan` does after its host call)."""
    return carry.replace(chunk=jnp.where(need[:, None, None], chunk, carry.chunk),
                         index=jnp.where(need, 0, carry.index).astype(jnp.int32))


_write_back = jax.jit(write_back)


def _tile(images: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first axis of `images` repeated cyclically to length n, twice: in a 64-byte-aligned
    buffer (JAX shares it) and in numpy's own allocation (as BatchRenderer returns; JAX copies it
    unless it happens to be aligned)."""
    plain = np.resize(images, (n, *images.shape[1:]))
    aligned = aligned_empty(plain.shape, plain.dtype)
    aligned[...] = plain
    return aligned, plain


class Workload:
    """The renderer, the GR00T base and the env poses, shared by every batch size."""

    def __init__(self, args: Args, p: Plan, model_dir: str, qpos: np.ndarray, mj_model: Any) -> None:
        import torch

        from bridge.groot.policy import GrootBase
        from mjx_gr00t.groot_settings import GrootSettings
        from bridge.groot import planner
        from mjx_gr00t.render import BatchRenderer, RenderBackendError

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        try:
            self.base = GrootBase.from_pretrained(GrootSettings(
                model=model_dir, max_batch=args.max_batch, device=p.device, n_action_steps=args.n_action_steps))
        except (FileNotFoundError, ValueError, ImportError) as e:
            raise UsageError(f"--model {model_dir!r}: {e}") from e
        cameras = tuple(dict.fromkeys(cam for _, cam in self.base.layout.video))
        try:
            height, width = planner.RENDER_SIZE  # as the chunk planner draws: the rig's frames, no multisampling
            self.renderer = BatchRenderer(mj_model, cameras, height, width, backend=args.render_backend,
                                          antialias=False)
        except RenderBackendError as e:
            raise UsageError(f"cannot render here: {e}") from e
        self.cameras, self.args, self.qpos = cameras, args, qpos

    def query(self, n: int, carry: Any, need: jax.Array, seed: int) -> tuple[dict[str, float], Any]:
        """One timed chunk query of n envs, where `need` (n,) -> (seconds per part and details, the
        new carry)."""
        drawn = n if self.args.render_envs == 0 else min(n, self.args.render_envs)
        joint_pos = jax.block_until_ready(jnp.asarray(self.qpos[:n, :6]))  # in the env state already
        from bridge.groot.frames import to_groot_size  # torch: loaded with the GR00T base already

        t0 = time.perf_counter()
        drawn_images = self.renderer.render(self.qpos[:drawn])
        images = {cam: to_groot_size(frames).numpy() for cam, frames in drawn_images.items()}
        draw_measured = time.perf_counter() - t0
        tiled = {cam: _tile(images[cam], n) for cam in self.cameras}  # untimed: stands in for the rest
        t0 = time.perf_counter()
        on_device = jax.block_until_ready({cam: jnp.asarray(img) for cam, (img, _) in tiled.items()})
        to_jax_s = time.perf_counter() - t0
        t0 = time.perf_counter()  # a detail, not part of the query: BatchRenderer's own buffers
        jax.block_until_ready([jnp.asarray(plain) for _, plain in tiled.values()])
        unaligned_s = time.perf_counter() - t0
        front = on_device[self.cameras[0]]
        wrist = on_device.get("wrist", front)
        t0 = time.perf_counter()
        chunk = self.base.plan(front, wrist, joint_pos, seed=seed, fallback=carry.chunk)
        plan_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        carry = jax.block_until_ready(_write_back(carry, chunk, need))
        write_back_s = time.perf_counter() - t0
        timing = self.base.last_timing
        draw_s = draw_measured * n / drawn
        parts = {
            "render": draw_s + to_jax_s, "to_torch": timing["groot/to_torch_time"],
            "model": timing["groot/model_time"], "to_jax": timing["groot/to_jax_time"],
            "write_back": write_back_s,
        }
        details = {
            "render_draw_s": draw_s, "render_draw_measured_s": draw_measured, "render_to_jax_s": to_jax_s,
            "render_to_jax_unaligned_s": unaligned_s, "plan_wall_s": plan_wall,
            "sub_batches": timing["groot/sub_batches"],
            "unaligned_buffers_aligned": float(all(p.ctypes.data % XLA_CPU_ALIGNMENT == 0
                                                   for _, p in tiled.values())),
        }
        return {**parts, **details}, carry

    def close(self) -> None:
        self.renderer.close()


def initial_carry(qpos: np.ndarray, n_action_steps: int, seed: int) -> Any:
    """A batch's ChunkCarry before its first plan: hold the current joints, plan at once."""
    from mjx_gr00t.bases.chunked import ChunkCarry

    n = len(qpos)
    hold = jnp.broadcast_to(jnp.asarray(qpos[:, None, :6]), (n, 16, 6))
    carry = ChunkCarry(chunk=jnp.array(hold, jnp.float32), index=jnp.full((n,), n_action_steps, jnp.int32),
                       key=jax.random.split(jax.random.PRNGKey(seed), n), seed=jnp.zeros((n,), jnp.uint32))
    # Committed, like the jitted outputs that replace it (else the second write-back recompiles).
    return jax.device_put(carry, jax.devices()[0])


def _spread(samples: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "samples_s": samples}


def measure(work: Workload, n: int, args: Args) -> dict[str, Any]:
    """One record: --warmup untimed then --repeats timed queries of n envs."""
    carry = initial_carry(work.qpos[:n], args.n_action_steps, args.seed)
    need = jax.device_put(jnp.ones((n,), bool), jax.devices()[0])  # every env plans (after a reset)
    compiles = compile_count()
    for i in range(args.warmup):
        _, carry = work.query(n, carry, need, args.seed + i)
        compiles = compile_count()
    runs = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.repeats):
        timing, carry = work.query(n, carry, need, args.seed + args.warmup + i)
        runs.append(timing)
    cpu_per_wall = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    totals = [sum(r[p] for p in PARTS) for r in runs]
    overhead = [sum(r[p] for p in OVERHEAD_PARTS) for r in runs]
    pct = [100 * o / t for o, t in zip(overhead, totals)]
    pct_no_render = [100 * o / (t - r["render"]) for o, t, r in zip(overhead, totals, runs)]
    drawn = n if args.render_envs == 0 else min(n, args.render_envs)
    total = statistics.median(totals)
    return {
        "num_envs": n, "repeats": args.repeats, "warmup": args.warmup,
        "parts": {p: _spread([r[p] for r in runs]) for p in PARTS},
        "total": _spread(totals),
        "overhead": _spread(overhead),
        "overhead_pct": statistics.median(pct), "overhead_pct_range": [min(pct), max(pct)],
        "overhead_pct_without_render": statistics.median(pct_no_render),
        "overhead_pct_without_render_range": [min(pct_no_render), max(pct_no_render)],
        "render_envs_drawn": drawn, "render_extrapolated": drawn < n,
        "render_detail": {k: _spread([r[k] for r in runs])
                          for k in ("render_draw_s", "render_draw_measured_s", "render_to_jax_s",
                                    "render_to_jax_unaligned_s")},
        "unaligned_buffers_were_aligned": bool(runs[0]["unaligned_buffers_aligned"]),
        "plan_wall": _spread([r["plan_wall_s"] for r in runs]),
        "sub_batches": int(runs[0]["sub_batches"]),
        "amortised_s_per_env_step": total / (n * args.n_action_steps),
        "compiles_in_timed_region": compile_count() - compiles,
        "process_cpu_per_wall": cpu_per_wall,
        "load_average_1min_after": os.getloadavg()[0],
    }


def main(args: Args) -> dict[str, Any]:
    """Runs every batch size; returns the JSON record (also written to disk with the PNG)."""
    p = plan(args)
    info = machine()
    data: dict[str, Any] = {
        "machine": info, "machine_tag": machine_tag(), "settings": dataclasses.asdict(args),
        "device": p.device, "scene": SCENE, "notes": NOTES, "target_overhead_pct": TARGET_PCT,
        "load_average_1min_start": os.getloadavg()[0], "records": [], "skipped": [],
    }
    print(f"machine: {machine_line(info)}\nsizes {list(p.sizes)}, torch device {p.device}; writing "
          f"{p.json_path}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bridge_latency_") as tmp:
        model = args.model
        if model is None:
            from bridge.tiny_checkpoint import write_checkpoint

            model = write_checkpoint(os.path.join(tmp, "tiny"), seed=args.seed)
        data["model"] = args.model or "bridge.tiny checkpoint (random weights), so100_dualcam"
        qpos, mj_model = start_poses(max(p.sizes), args.seed)
        work = Workload(args, p, model, qpos, mj_model)
        try:
            for n in p.sizes:
                print(f"{n} envs ... ", end="", flush=True)
                try:
                    rec = measure(work, n, args)
                except MemoryError as err:
                    data["skipped"].append({"num_envs": n, "reason": f"MemoryError: {err}"})
                    print("skipped, out of memory", flush=True)
                    continue
                rec["machine"] = machine_line(info)
                data["records"].append(rec)
                print(summary_line(rec), flush=True)
                write_json(data, p.json_path)
        finally:
            work.close()
    write_json(data, p.json_path)
    if args.plot and data["records"]:
        plot_parts(data, p.png_path)
    print(f"wrote {p.json_path}" + (f" and {p.png_path}" if args.plot and data["records"] else ""), flush=True)
    return data


if __name__ == "__main__":
    main(cli_args.cli(Args))
