"""benchmarks.peers, part `fetch`: Gymnasium-Robotics `FetchPickAndPlace-v4` against our `fetch_pick_place`.

The two scenes are not the same physics (the record and the table say so):
- ours (`envs_xml/fetch_like.xml`): a parallel gripper on three world-aligned slide joints driven by
  stiff position servos, two finger slides and a free cube; no arm (see `mjx_gr00t.envs.fetch`);
- the peer: the whole Fetch robot (7-DoF arm, torso lift, head, base slides) whose gripper is pulled
  by a mocap weld, two fingers and a free cube.
Both take 20 physics steps of 2 ms per env step (read from the env objects, not assumed).

What is timed (env = policy steps/s, random actions, after warm-up; ratio = ours / peer):
- the peer in ONE process: `gymnasium.make(PEER_ID)` stepped with `action_space.sample()`,
  resetting when an episode ends, as a user would;
- the peer in as many processes as our engine uses threads (`CEngine.nthread`, os.cpu_count() by
  default): `gymnasium.vector.AsyncVectorEnv`, one env per worker process, auto-reset in the same
  step, batched `action_space.sample()`;
- ours, batched on `engine` (C on a CPU): a jitted scan of the vmapped env (`peers_raw.scan_rate`),
  and the same env through our Gymnasium adapter (`mjx_gr00t.gym.make_vec`, numpy actions);
- each scene's raw physics: single-thread `mujoco.mj_step` (20 steps per call) on the scene's own
  model and data, driven by random actions through the env's own control mapping and reset every
  50 env steps (peer: `unwrapped._set_action` on `unwrapped.model/data`; ours: the env's reset
  states and DR draws written to an MjModel copy, and its servo-target rule). Only mj_step is on
  the clock; it says how much of the env-steps ratio is cheaper physics.

The peer runs in a child `python -O -m benchmarks.peers_fetch` (this file's CLI, one JSON line);
its AsyncVectorEnv workers are spawned with the same interpreter flags. `-O` because
gymnasium-robotics 1.4.2 asserts `model.jnt_type[j] in (mjtJoint.mjJNT_HINGE, ...)`, which is False
for every joint under mujoco 3.17 (its enums no longer compare equal to numpy ints from the left),
so every reset and step would fail; -O skips only those asserts.
"""

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
from mjx_gr00t import cli_args

PEER_ID: str = "FetchPickAndPlace-v4"
REPO: str = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP_STEPS: int = 50
EPISODE_STEPS: int = 50
"""Env steps between resets in the raw mj_step loops (both envs' time limit)."""
OURS_PHYSICS: str = "gripper on 3 slide joints with stiff servos, no arm"
PEER_PHYSICS: str = "7-DoF Fetch arm (+ torso, head, base joints) driven by a mocap weld"


@dataclasses.dataclass(frozen=True)
class PeerArgs:
    """Step Gymnasium-Robotics FetchPickAndPlace-v4 with random actions in one process and in several,
    and time its raw mj_step; print the record as one JSON line (run it with python -O)."""

    seconds: float = 10.0
    """How long each of the three measurements is timed (after warm-up)."""
    seed: int = 0
    """Seed of the envs and of the action samplers."""
    processes: int = 0
    """AsyncVectorEnv worker processes, one env each (0: os.cpu_count())."""


def make_peer_env() -> Any:
    """`gymnasium.make(PEER_ID)` (registers gymnasium-robotics first; for worker processes too)."""
    import gymnasium
    import gymnasium_robotics

    gymnasium.register_envs(gymnasium_robotics)
    return gymnasium.make(PEER_ID)


def _single_process_rate(seconds: float, seed: int) -> dict[str, float]:
    env = make_peer_env()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(WARMUP_STEPS):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    steps, episodes, start = 0, 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
            episodes += 1
    elapsed = time.perf_counter() - start
    env.close()
    return {"env_steps": steps, "episodes": episodes, "seconds": elapsed, "env_steps_per_s": steps / elapsed}


def _multi_process_rate(processes: int, seconds: float, seed: int) -> dict[str, float]:
    import gymnasium

    vec = gymnasium.vector.AsyncVectorEnv(
        [make_peer_env] * processes, context="spawn",
        autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    try:
        vec.reset(seed=seed)
        vec.action_space.seed(seed)
        for _ in range(WARMUP_STEPS):
            vec.step(vec.action_space.sample())
        calls, start = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - start < seconds:
            vec.step(vec.action_space.sample())
            calls += 1
        elapsed = time.perf_counter() - start
    finally:
        vec.close()
    return {"env_steps": processes * calls, "seconds": elapsed, "env_steps_per_s": processes * calls / elapsed}


def mj_step_cost(
    model: mujoco.MjModel, data: mujoco.MjData, reset: Callable[[int], None],
    control: Callable[[np.ndarray], None], action_size: int, substeps: int, seconds: float, seed: int,
) -> dict[str, float]:
    """Single-thread `mujoco.mj_step(model, data, nstep=substeps)` per env step, with uniform random
    actions in [-1, 1] (action_size,) applied by `control(action)` and `reset(episode)` every
    EPISODE_STEPS env steps; only mj_step is timed, for about `seconds` (after one warm-up episode).
    Returns us_per_physics_step, physics_steps and mean_contacts (data.ncon after each env step)."""
    rng = np.random.default_rng(seed)
    reset(0)
    for _ in range(EPISODE_STEPS):
        control(rng.uniform(-1.0, 1.0, action_size))
        mujoco.mj_step(model, data, nstep=substeps)
    spent, env_steps, contacts, episode = 0.0, 0, 0, 1
    reset(episode)
    while env_steps == 0 or spent < seconds:
        control(rng.uniform(-1.0, 1.0, action_size))
        start = time.perf_counter()
        mujoco.mj_step(model, data, nstep=substeps)
        spent += time.perf_counter() - start
        env_steps += 1
        contacts += data.ncon
        if env_steps % EPISODE_STEPS == 0:
            episode += 1
            reset(episode)
    physics = env_steps * substeps
    return {"us_per_physics_step": 1e6 * spent / physics, "physics_steps": physics,
            "mean_contacts": contacts / env_steps}


def model_facts(model: mujoco.MjModel, substeps: int) -> dict[str, Any]:
    """What sizes an MjModel's step cost: dimensions, solver settings and steps per env step."""
    return {
        "physics_steps_per_env_step": int(substeps), "timestep_s": float(model.opt.timestep),
        "nq": model.nq, "nv": model.nv, "nu": model.nu, "njnt": model.njnt, "nbody": model.nbody,
        "ngeom": model.ngeom, "nmocap": model.nmocap, "neq": model.neq,
        "integrator": mujoco.mjtIntegrator(model.opt.integrator).name,
        "cone": mujoco.mjtCone(model.opt.cone).name,
        "solver_iterations": int(model.opt.iterations),
    }


def _peer_mj_step(seconds: float, seed: int) -> dict[str, Any]:
    env = make_peer_env()
    env.reset(seed=seed)
    u = env.unwrapped
    cost = mj_step_cost(u.model, u.data, lambda episode: env.reset(seed=seed + 1 + episode),
                        u._set_action, env.action_space.shape[0], u.n_substeps, seconds, seed)
    facts = model_facts(u.model, u.n_substeps)
    env.close()
    return {**cost, **facts}


def step_peer(args: PeerArgs) -> dict[str, Any]:
    """The peer's record, measured in this process (and its workers)."""
    processes = args.processes or os.cpu_count() or 1
    single = _single_process_rate(args.seconds, args.seed)
    multi = _multi_process_rate(processes, args.seconds, args.seed)
    raw = _peer_mj_step(args.seconds, args.seed)
    return {"single": single, "multi": {**multi, "processes": processes}, "mj_step": raw,
            "gymnasium_robotics": importlib.metadata.version("gymnasium-robotics"),
            "python_optimize_flag": sys.flags.optimize}


def child_env() -> dict[str, str]:
    """This environment with the repository on PYTHONPATH, for child processes run from REPO."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))


def run_peer_process(seconds: float, seed: int, processes: int) -> dict[str, Any]:
    """`step_peer` in a child `python -O` process; raises RuntimeError with its stderr on failure."""
    if importlib.util.find_spec("gymnasium_robotics") is None:
        raise ModuleNotFoundError("gymnasium_robotics")
    cmd = [sys.executable, "-O", "-m", "benchmarks.peers_fetch", "--seconds", str(seconds), "--seed", str(seed),
           "--processes", str(processes)]
    proc = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{PEER_ID} peer process failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ours_mj_step(env: Any, seconds: float, seed: int) -> dict[str, Any]:
    """`mj_step_cost` of our env's scene: the MjModel of `env.task`, reset to the env's own reset states
    (qpos, DR draws written into a model copy as the C engine does) and driven by its servo rule."""
    import copy

    import jax

    from mjx_gr00t.envs.fetch.task import FINGER_CTRL_MAX

    task = env.task
    model = copy.deepcopy(task.mj_model)
    data = mujoco.MjData(model)
    resets = jax.device_get(jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(seed), 16)))
    low, high = np.asarray(task.ws_low, np.float64), np.asarray(task.ws_high, np.float64)
    scale = task.config.action_scale
    target = np.zeros(3)

    def reset(episode: int) -> None:
        i = episode % len(resets.physics.qpos)
        for name, value in resets.info.overrides.items():
            getattr(model, name)[...] = np.asarray(value[i], np.float64).reshape(getattr(model, name).shape)
        mujoco.mj_resetData(model, data)
        data.qpos[:] = resets.physics.qpos[i]
        target[:] = resets.info.grip_target[i]
        mujoco.mj_forward(model, data)

    def control(action: np.ndarray) -> None:
        target[:] = np.clip(target + action[:3] * scale, low, high)
        fingers = data.qpos[task.finger_q]
        grip = np.zeros(2) if task.block_gripper else np.clip(fingers + action[3], 0.0, FINGER_CTRL_MAX)
        data.ctrl[:] = np.concatenate([target, grip])

    cost = mj_step_cost(model, data, reset, control, task.action_size, task.config.substeps, seconds, seed)
    return {**cost, **model_facts(task.mj_model, task.config.substeps)}


def run_fetch(engine: str, num_envs: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """The `fetch` record: env-steps/s of the peer (one process, and one per core) and of ours
    (jitted batch, and through the Gymnasium adapter), each scene's raw mj_step cost, the ratios."""
    from benchmarks.peers_raw import scan_rate, uniform_actions
    from mjx_gr00t import gym as mgym
    from mjx_gr00t.envs import registry
    from mjx_gr00t.envs.fetch.pick_place import FetchPickPlaceConfig

    env = registry.make("fetch_pick_place", FetchPickPlaceConfig(num_envs=num_envs, engine=engine))
    threads = getattr(env.task.engine, "nthread", None) or os.cpu_count() or 1
    peer = run_peer_process(seconds, seed, threads)
    ours = scan_rate(env, num_envs, uniform_actions, seconds, seed)
    ours_raw = ours_mj_step(env, seconds, seed)

    vec = mgym.make_vec("fetch_pick_place", num_envs, engine=engine, seed=seed)
    vec.reset(seed=seed)
    vec.action_space.seed(seed)
    vec.step(vec.action_space.sample())  # compiles
    steps, start = 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - start < seconds:
        vec.step(vec.action_space.sample())
        steps += 1
    gym_rate = num_envs * steps / (time.perf_counter() - start)
    vec.close()

    single, multi, peer_raw = peer["single"]["env_steps_per_s"], peer["multi"]["env_steps_per_s"], peer["mj_step"]
    rate = ours["policy_steps_per_s"]
    physics_ratio = peer_raw["us_per_physics_step"] / ours_raw["us_per_physics_step"]
    return {
        "scene": "fetch_pick_place", "peer": PEER_ID, "engine": env.task.engine_name, "num_envs": num_envs,
        "dr": True, "ours_engine_threads": threads,
        "ours_physics": OURS_PHYSICS, "ours_model": "envs_xml/fetch_like.xml",
        "peer_physics": PEER_PHYSICS, "peer_model": "gymnasium_robotics/envs/assets/fetch/pick_and_place.xml",
        "peer_processes": peer["multi"]["processes"],
        "peer_vector_env": "gymnasium.vector.AsyncVectorEnv (spawn, same-step autoreset)",
        "peer_env_steps_per_s": multi, "peer_single_process_env_steps_per_s": single,
        "peer_gymnasium_robotics": peer["gymnasium_robotics"], "peer_python_flags": "-O",
        "ours_env_steps_per_s": rate, "ours_compile_s": ours["compile_s"],
        "ours_gym_adapter_env_steps_per_s": gym_rate,
        "ratio_ours_vs_peer": rate / multi,
        "ratio_ours_vs_peer_single_process": rate / single,
        "ratio_ours_gym_adapter_vs_peer": gym_rate / multi,
        "ours_mj_step": ours_raw, "peer_mj_step": peer_raw,
        "physics_cost_ratio_peer_vs_ours": physics_ratio,
        "ratio_ours_vs_peer_per_physics_cost": rate / multi / physics_ratio,
        "mj_step_note": ("single-thread mujoco.mj_step on each scene's own model and data, random actions "
                         "through each env's control mapping, reset every 50 env steps; only mj_step timed. "
                         "physics_cost_ratio = peer us / ours us per physics step; "
                         "ratio_ours_vs_peer_per_physics_cost = ratio_ours_vs_peer / physics_cost_ratio, "
                         "the part of the ratio that cheaper physics does not explain"),
    }


if __name__ == "__main__":
    print(json.dumps(step_peer(cli_args.cli(PeerArgs))))
