"""The four sections of `benchmarks.gpu`. Each takes a `Section` (its plan, its clock `left()`, and
`data`, its slice of the JSON) and fills `data`; `benchmarks.gpu.run_section` records what it raises.

The paper task throughout: `paper_square`, DR on; PPO is the runner's (its builders, the default PPO
recipe's hyperparameters: `python -m train.residual_ppo`'s defaults, the IK base) at the plan's engine
and size.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import throughput_figures as figs
from benchmarks.common import compile_count, time_steady
from benchmarks.runs import runner_config
from mjx_gr00t.rl import algos, ppo
from mjx_gr00t.runner.config import RunConfig
from mjx_gr00t.runner.finish import evaluate_policy
from mjx_gr00t.runner.recipes import total_iterations
from mjx_gr00t.time_to_target import first_crossing, held_time, time_to_target as target_record


class Section(Protocol):
    """What a section gets from `benchmarks.gpu.Section`: plan, report slice, clock, work in flight."""

    name: str
    plan: Any
    data: dict[str, Any]
    current: str

    def left(self) -> float: ...

    def save(self) -> None: ...

    def skip(self, item: dict[str, Any], reason: str) -> None: ...

SCENE: str = "paper_square"
OTHER_TARGETS: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
TARGET_WHY: str = (
    "the default CPU run (256 envs, 3M steps) ends at 0.855 held-out success, 95 % CI 0.807..0.893 "
    "(benchmarks/results/residual_ppo_paper_square_cpu2.json); a target that must hold at every later "
    "evaluation has to sit below the plateau by more than the evaluation noise; the curve is stored, and "
    "held_s_at_other_targets reads it at other targets")
Failure = (Exception, SystemExit)   # what a measurement may raise and the run records
Evaluate = Callable[[Any], tuple[float, float]]   # TrainState -> (held-out success, seconds taken)


def error_text(err: BaseException) -> str:
    """'TypeName: first line of the message', for the JSON."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"[:500]


def _settle(sec: Section, measured: int) -> None:
    """The section's status from what it measured and what it skipped or failed."""
    skipped, failed = sec.data.get("skipped", []), sec.data.get("failed", [])
    if not skipped and not failed:
        sec.data.update(status="ok", reason=None)
    elif measured:
        sec.data.update(status="partial", reason=f"{len(skipped)} skipped, {len(failed)} failed (see "
                                                 "skipped and failed)")
    else:
        first = (failed or skipped)[0]["reason"]
        sec.data.update(status="error" if failed else "skipped", reason=first)


# ---------------------------------------------------------------------------------------------
# PPO, built as the runner builds it (figs.ppo_parts): the throughput figure and the time-to-target
# run of one engine and size share one config, so they compile the train step once


def ppo_run_config(engine: str, num_envs: int, total_steps: int) -> RunConfig:
    """The default PPO recipe (IK base, DR on, its hyperparameters) at this engine and size, resolved."""
    unroll = runner_config("ppo").algo.unroll_length
    return runner_config("ppo", scene=SCENE, base="ik", engine=engine, num_envs=num_envs, dr=True,
                         total_steps=max(total_steps, num_envs * unroll))


# ---------------------------------------------------------------------------------------------
# throughput


FIGURES: dict[str, str] = {
    "env": "the paper_square env alone (no base), vmapped, random actions (benchmarks.throughput_figures 'env')",
    "train_ppo": "one jitted PPO iteration (rollout with the IK base + GAE + minibatch epochs) with "
                 "train.residual_ppo's defaults; total_steps only sets the learning-rate decay",
}


def _measure(figure: str, engine: str, n: int, sec: Section) -> dict[str, Any]:
    p = sec.plan
    start = time.perf_counter()
    spec = figs.Spec(SCENE, engine, n, True, p.steps)
    if figure == "env":
        env = figs.plain_env(spec)
        work, substeps = figs.build("env", spec, env), figs.physics_substeps(env.task)
    else:
        cfg = ppo_run_config(engine, n, p.ttt_total_steps)
        penv, config, train_step, state = figs.ppo_parts(cfg, p.seed)
        details = {"base": "ik", "algo": "ppo", "unroll_length": config.unroll_length,
                   "updates_per_call": config.updates_per_iteration, "total_steps": cfg.run.total_steps,
                   "minibatch_size": config.batch_size // config.num_minibatches}
        work = figs.Workload(lambda s: train_step(s)[0], state, config.batch_size, details)
        substeps = figs.physics_substeps(penv.task.task)
    build_s = time.perf_counter() - start
    t = time_steady(work.step, work.carry, p.min_time_s, 1 if p.smoke else 2)
    rate = work.env_steps_per_call / t["per_call_s"]
    return {
        "engine": engine, "num_envs": n, "figure": figure, "env_steps_per_s": rate,
        "physics_steps_per_s": rate * substeps, "substeps": substeps,
        "compile_s": max(t["first_call_s"] - t["per_call_s"], 0.0), "first_call_s": t["first_call_s"],
        "build_s": build_s, "per_call_s": t["per_call_s"], "calls": t["calls"], "timed_s": t["timed_s"],
        "env_steps_per_call": work.env_steps_per_call,
        "compiles_in_timed_region": t["compiles_in_timed_region"], "dr": True, **work.details,
    }


def throughput(sec: Section) -> None:
    """Env steps/s and physics steps/s of each size x engine x figure, in the plan's order; what
    the section's time cannot hold is skipped and listed."""
    p = sec.plan
    sec.data.update(figures=FIGURES, records=[], skipped=[], failed=[],
                    order="for each size (in the plan's order): for each engine: env, then train_ppo")
    cannot_start: dict[str, str] = {}
    probed: set[str] = set()
    took: dict[tuple[str, str], float] = {}
    for n in p.num_envs:
        for engine in p.engines:
            if engine not in probed:
                probed.add(engine)
                try:  # an engine that cannot start here (e.g. no warp-lang) is recorded once
                    figs.plain_env(figs.Spec(SCENE, engine, n, True))
                except Failure as err:
                    cannot_start[engine] = f"engine {engine} cannot start here: {error_text(err)}"
            for figure in FIGURES:
                item = {"engine": engine, "num_envs": n, "figure": figure}
                if engine in cannot_start:
                    sec.skip(item, cannot_start[engine])
                    continue
                # What the last one like it took (compile included): this engine's, else the longest.
                like = [k for k in took if k[1] == figure]
                ref = (engine, figure) if (engine, figure) in took else max(like, key=took.get, default=None)
                if ref is not None and sec.left() < took[ref]:
                    sec.skip(item, f"skipped for time: {max(sec.left(), 0):.0f} s left in the section, the "
                                   f"last {ref[0]} {figure} took {took[ref]:.0f} s")
                    continue
                sec.current = f"throughput {engine} n={n} {figure}"
                start = time.monotonic()
                try:
                    rec = _measure(figure, engine, n, sec)
                except Failure as err:  # e.g. out of device memory at 16,384 envs
                    sec.data["failed"].append({**item, "reason": error_text(err)})
                    sec.save()
                    continue
                finally:
                    took[(engine, figure)] = time.monotonic() - start
                sec.data["records"].append(rec)
                sec.save()
    _settle(sec, len(sec.data["records"]))


# ---------------------------------------------------------------------------------------------
# time to target


def time_to_target(sec: Section) -> None:
    """Residual PPO at ttt_envs for at most ttt_cap_s of training clock; the held-out success curve
    and the time at which it reaches ttt_target and holds."""
    p, d = sec.plan, sec.data
    cfg = ppo_run_config(p.ttt_engine, p.ttt_envs, p.ttt_total_steps)
    d.update(setup={"scene": SCENE, "engine": p.ttt_engine, "num_envs": p.ttt_envs, "base": "ik", "dr": True,
                    "total_steps": cfg.run.total_steps, "seed": p.seed,
                    "hyperparameters": "train.residual_ppo defaults (learning rate, unroll, minibatches, ...)"},
             cap_s=p.ttt_cap_s, eval_every_s=p.ttt_eval_every_s,
             evaluation={"episodes": p.ttt_eval_episodes, "seed": cfg.run.eval_seed,
                         "how": "mjx_gr00t.runner.finish.evaluate_policy: base + alpha * deterministic "
                                "residual, one episode per env, the same held-out initial states every time"},
             train_clock="sum of the wall times of the timed train_step calls, each blocked on; the compile "
                         "(a first call whose result is dropped) and every evaluation are off the clock",
             curve_note="the point at train_s 0 is the base alone (the residual's last layer starts at zero)")
    sec.current = "time_to_target: build and compile"
    start = time.perf_counter()
    env, config, train_step, state = figs.ppo_parts(cfg, p.seed)
    algo = algos.get("ppo")
    policy_fn = algo.policy_fn(config)

    def evaluate(ts: Any) -> tuple[float, float]:
        t = time.perf_counter()
        summary = evaluate_policy(env, policy_fn, algo.inference_params(ts), cfg.residual.alpha,
                                  p.ttt_eval_episodes, cfg.run.eval_seed)
        return float(summary["success_rate"]), time.perf_counter() - t

    t = time.perf_counter()
    jax.block_until_ready(train_step(state))  # compile; inputs are not donated, so `state` stays
    d["first_train_call_s"] = time.perf_counter() - t
    d["first_eval_s"] = evaluate(state)[1]  # compiles the evaluation
    curve = d["curve"] = [_point(0.0, state, evaluate)]  # the same evaluation, now without the compile
    d["setup_s"] = time.perf_counter() - start
    sec.save()
    compiles = compile_count()
    sec.current = "time_to_target: training"
    state, clock, stop = _train(sec, train_step, state, evaluate, total_iterations(cfg, "ppo"))
    by_time = [(c["train_s"], c["success"]) for c in curve]
    d.update(
        stopped_because=stop, train_clock_s=clock, iterations=int(state.iteration),
        env_steps=int(state.env_steps), env_steps_per_s=int(state.env_steps) / max(clock, 1e-9),
        compiles_while_training=compile_count() - compiles, final_success=curve[-1]["success"],
        target=p.ttt_target, target_why=TARGET_WHY, hold=p.ttt_hold,
        result=target_record(by_time, p.ttt_target, hold=p.ttt_hold),
        result_env_steps=_in_env_steps(curve, p.ttt_target, p.ttt_hold),
        held_s_at_other_targets={str(x): held_time(by_time, x) for x in OTHER_TARGETS},
    )
    d["reached"] = d["result"]["held_s"] is not None


def _in_env_steps(curve: list[dict[str, Any]], target: float, hold: int) -> dict[str, Any]:
    """The same readings as `result`, in env steps instead of seconds."""
    steps = [(c["env_steps"], c["success"]) for c in curve]
    return {"held_env_steps": held_time(steps, target),
            f"held_{hold}_evals_env_steps": held_time(steps, target, hold),
            "first_crossing_env_steps (not held; for reference only)": first_crossing(steps, target)}


def _point(clock: float, state: Any, evaluate: Evaluate) -> dict[str, Any]:
    """One point of the curve: held-out success of `state`'s policy at training clock `clock`."""
    success, eval_s = evaluate(state)
    return {"train_s": clock, "env_steps": int(state.env_steps), "iteration": int(state.iteration),
            "success": success, "eval_s": eval_s}


def _train(sec: Section, train_step: ppo.TrainStep, state: Any, evaluate: Evaluate,
           total_iterations: int) -> tuple[Any, float, str]:
    """Trains until the cap, total_iterations or the section's time, evaluating every ttt_eval_every_s
    of training clock and at the end (points appended to sec.data["curve"]). Returns (state, training
    clock, why it stopped: cap, total_steps or section time)."""
    p, curve = sec.plan, sec.data["curve"]
    clock, next_eval, iter_s, stop = 0.0, p.ttt_eval_every_s, 0.0, "cap"
    while clock < p.ttt_cap_s:
        if int(state.iteration) >= total_iterations:
            stop = "total_steps"
            break
        if sec.left() < iter_s + curve[-1]["eval_s"]:  # one more iteration and a last evaluation
            stop = "section time"
            break
        t = time.perf_counter()
        state = jax.block_until_ready(train_step(state)[0])
        iter_s = time.perf_counter() - t
        clock += iter_s
        if clock >= next_eval:
            while next_eval <= clock:
                next_eval += p.ttt_eval_every_s
            curve.append(_point(clock, state, evaluate))
            sec.save()
    if curve[-1]["train_s"] < clock:
        curve.append(_point(clock, state, evaluate))
    return state, clock, stop


# ---------------------------------------------------------------------------------------------
# bridge


def _dlpack_checks(device: str) -> dict[str, Any]:
    """JAX -> torch and torch -> JAX -> torch on `device`: the data pointers and the values."""
    import torch

    from bridge.dlpack import jax_to_torch, torch_to_jax

    x = jax.device_put(jnp.arange(4096, dtype=jnp.float32), jax.devices()[0]) * 2  # a buffer JAX allocated
    t = jax_to_torch(x)
    to_torch = {"jax_ptr": x.unsafe_buffer_pointer(), "torch_ptr": t.data_ptr(), "torch_device": str(t.device),
                "values_equal": bool(torch.equal(t, torch.arange(4096, dtype=torch.float32, device=t.device) * 2))}
    to_torch["same_pointer"] = to_torch["jax_ptr"] == to_torch["torch_ptr"]
    u = torch.arange(4096, dtype=torch.float32, device=device) + 1  # a buffer torch allocated
    y = torch_to_jax(u, copy=False)
    back = jax_to_torch(y)
    to_jax = {"torch_ptr": u.data_ptr(), "jax_ptr": y.unsafe_buffer_pointer(),
              "jax_device": str(next(iter(y.devices()))), "round_trip_torch_ptr": back.data_ptr(),
              "values_equal": bool(np.array_equal(np.asarray(y), np.arange(4096, dtype=np.float32) + 1))}
    to_jax["same_pointer"] = to_jax["jax_ptr"] == to_jax["torch_ptr"] == to_jax["round_trip_torch_ptr"]
    ok = all(r["same_pointer"] and r["values_equal"] for r in (to_torch, to_jax))
    return {"jax_to_torch": to_torch, "torch_to_jax_to_torch": to_jax, "all_pointers_equal": ok}


def bridge(sec: Section) -> None:
    """DLPack pointer checks, then timed chunk queries of the tiny GR00T-contract model."""
    p, d = sec.plan, sec.data
    try:
        import torch
    except ImportError:
        d.update(status="skipped", reason="torch is not installed: pip install -e '.[bridge]'")
        return
    from bridge.groot.policy import GrootBase
    from bridge.tiny_checkpoint import write_checkpoint
    from mjx_gr00t.groot_settings import GrootSettings

    d["torch"] = {"version": torch.__version__, "cuda": torch.version.cuda,
                  "cuda_available": torch.cuda.is_available()}
    platform = jax.devices()[0].platform
    if platform == "gpu" and torch.cuda.is_available():
        device = "cuda"
    elif platform == "cpu" and p.smoke:
        device = "cpu"
    else:
        d.update(status="skipped", reason=f"JAX runs on {platform} but torch {torch.__version__} (CUDA "
                                          f"{torch.version.cuda}) sees no CUDA GPU; install a CUDA build of torch")
        return
    d["device"] = device
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)  # two torch threads beside JAX on 2 cores run many times slower
    try:
        d["dlpack"] = _dlpack_checks(device)
        sec.save()
        with tempfile.TemporaryDirectory(prefix="gpu_check_tiny_") as tmp:
            tiny = write_checkpoint(os.path.join(tmp, "tiny"), seed=p.seed)
            base = GrootBase.from_pretrained(GrootSettings(model=tiny, device=device))
        d["query"] = _time_queries(sec, base, base.joint_ranges)
    finally:
        torch.set_num_threads(threads)
    if not d["dlpack"]["all_pointers_equal"]:
        d.update(status="error", reason="DLPack did not share memory: a data pointer differs (see dlpack)")


def _time_queries(sec: Section, base: Any, joint_ranges: Any) -> dict[str, Any]:
    """A warm-up then bridge_repeats timed `plan` calls on B = bridge_envs envs (JAX arrays in and out)."""
    p, n = sec.plan, sec.plan.bridge_envs
    k_front, k_wrist, k_q = jax.random.split(jax.random.PRNGKey(p.seed), 3)
    lo, hi = (jnp.asarray([r[i] for r in joint_ranges], jnp.float32) for i in (0, 1))
    front = jax.random.randint(k_front, (n, 224, 224, 3), 0, 256).astype(jnp.uint8)
    wrist = jax.random.randint(k_wrist, (n, 224, 224, 3), 0, 256).astype(jnp.uint8)
    q = jax.block_until_ready(jax.random.uniform(k_q, (n, len(joint_ranges)), minval=lo, maxval=hi))
    samples: list[float] = []
    parts: list[dict[str, float]] = []
    first, chunk, compiles = 0.0, None, 0
    for i in range(1 + p.bridge_repeats):
        if samples and sec.left() < samples[-1]:
            break
        sec.current = f"bridge: chunk query {i}"
        t = time.perf_counter()
        chunk = jax.block_until_ready(base.plan(front, wrist, q, seed=p.seed + i))
        elapsed = time.perf_counter() - t
        if i == 0:
            first, compiles = elapsed, compile_count()
        else:
            samples.append(elapsed)
            parts.append(dict(base.last_timing))
    if not samples:
        raise RuntimeError("no timed chunk query fitted in the section's time")
    med = statistics.median(samples)
    return {
        "num_envs": n, "max_batch": base.settings.max_batch, "n_action_steps": base.n_action_steps,
        "first_query_s": first, "median_s": med, "min_s": min(samples), "max_s": max(samples), "samples_s": samples,
        "parts_median_s": {k.removeprefix("groot/"): statistics.median(x[k] for x in parts)
                           for k in ("groot/to_torch_time", "groot/model_time", "groot/to_jax_time")},
        "per_env_step_s": med / (n * base.n_action_steps),
        "compiles_in_timed_region": compile_count() - compiles,
        "chunk": {"type": type(chunk).__name__, "shape": list(chunk.shape),
                  "device": str(next(iter(chunk.devices()))), "finite": bool(jnp.isfinite(chunk).all())},
        "inputs": "random uint8 front and wrist images (B, 224, 224, 3) and joints (B, 6) in the SO-101 ranges, "
                  "as JAX arrays on the device; the model is a fresh bridge.tiny checkpoint (random weights)",
    }


# ---------------------------------------------------------------------------------------------
# render


def render(sec: Section) -> None:
    """Front + wrist 224 x 224 images of render_envs fresh paper_square states per call: frames/s."""
    from benchmarks.bridge_latency import start_poses
    from mjx_gr00t.render import BatchRenderer, RenderBackendError

    p, d, n = sec.plan, sec.data, sec.plan.render_envs
    sec.current = "render: start poses"
    qpos, model = start_poses(n, p.seed)
    cameras = ("front", "wrist")
    try:
        renderer = BatchRenderer(model, cameras, 224, 224, backend=p.render_backend)
    except RenderBackendError as err:
        d.update(status="skipped", reason=f"render backend {p.render_backend} cannot start here: {err}")
        return
    try:
        sec.current = f"render: first call ({renderer.backend}, compiles)"
        t = time.perf_counter()
        images = renderer.render(qpos)
        first = time.perf_counter() - t
        calls, start, per_call, compiles = 0, time.perf_counter(), first, compile_count()
        sec.current = "render: timed calls"
        while calls < (1 if p.smoke else 3) or (time.perf_counter() - start < p.min_time_s and sec.left() > per_call):
            images = renderer.render(qpos)
            calls += 1
            per_call = (time.perf_counter() - start) / calls
        compiles = compile_count() - compiles
    finally:
        renderer.close()
    front = images["front"]
    d.update(
        backend=renderer.backend, asked_backend=p.render_backend, num_envs=n, cameras=list(cameras),
        height=224, width=224, first_call_s=first, per_call_s=per_call, calls=calls,
        compiles_in_timed_region=compiles,
        frames_per_s=n * len(cameras) / per_call, env_renders_per_s=n / per_call,
        includes="BatchRenderer.render: pose every env, draw both cameras, uint8 images copied to host numpy",
        images={"shape": list(front.shape), "dtype": str(front.dtype), "pixel_std": float(front.std())},
    )
    if not float(front.std()) > 0:
        d.update(status="error", reason="the rendered front images are one flat colour")
