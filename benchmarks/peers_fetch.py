"""benchmarks.peers, part `fetch`: Gymnasium-Robotics `FetchPickAndPlace-v4` against our `fetch_pick_place`.

- The peer: `gymnasium.make("FetchPickAndPlace-v4")` stepped with `action_space.sample()` in one
  process, resetting when an episode ends, as a user would. It runs in a child process started
  as `python -O -m benchmarks.peers_fetch` (this file's CLI), which prints one JSON line. `-O`
  because gymnasium-robotics 1.4.2 asserts `model.jnt_type[j] in (mjtJoint.mjJNT_HINGE, ...)`,
  which is False for every joint under mujoco 3.17 (its enums no longer compare equal to numpy
  ints from the left), so every reset and step would fail; -O skips only those asserts.
- Ours, batched on `engine` (C on a CPU): a jitted scan of the vmapped env with uniform random
  actions (`peers_raw.scan_rate`), and the same env through our Gymnasium adapter
  (`mjx_gr00t.gym.make_vec`, numpy actions from `action_space.sample()` each step).
Rates are env (policy) steps/s; ratio = ours / peer.
"""

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from typing import Any

import tyro

PEER_ID: str = "FetchPickAndPlace-v4"
REPO: str = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class PeerArgs:
    """Step Gymnasium-Robotics FetchPickAndPlace-v4 with random actions; print env-steps/s as JSON."""

    seconds: float = 10.0
    """How long to step (after 50 warm-up steps)."""
    seed: int = 0
    """Seed of the env and of the action sampler."""


def step_peer(args: PeerArgs) -> dict[str, Any]:
    """Steps the peer env in this process for about `args.seconds`; its record."""
    import gymnasium
    import gymnasium_robotics

    gymnasium.register_envs(gymnasium_robotics)
    env = gymnasium.make(PEER_ID)
    env.reset(seed=args.seed)
    env.action_space.seed(args.seed)
    for _ in range(50):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    steps, episodes, start = 0, 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - start < args.seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
            episodes += 1
    elapsed = time.perf_counter() - start
    env.close()
    return {"env_steps": steps, "episodes": episodes, "seconds": elapsed, "env_steps_per_s": steps / elapsed,
            "gymnasium_robotics": importlib.metadata.version("gymnasium-robotics")}


def run_peer_process(seconds: float, seed: int) -> dict[str, Any]:
    """`step_peer` in a child `python -O` process; raises RuntimeError with its stderr on failure."""
    if importlib.util.find_spec("gymnasium_robotics") is None:
        raise ModuleNotFoundError("gymnasium_robotics")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-O", "-m", "benchmarks.peers_fetch", "--seconds", str(seconds), "--seed", str(seed)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{PEER_ID} peer process failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_fetch(engine: str, num_envs: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """The `fetch` record: env-steps/s of the peer (one process) and of ours (jitted batch, and
    through the Gymnasium adapter), and the ratios."""
    from benchmarks.peers_raw import scan_rate, uniform_actions
    from mjx_gr00t import gym as mgym
    from mjx_gr00t.envs import registry
    from mjx_gr00t.envs.fetch_pick_place import FetchPickPlaceConfig

    peer = run_peer_process(seconds, seed)
    env = registry.make("fetch_pick_place", FetchPickPlaceConfig(num_envs=num_envs, engine=engine))
    ours = scan_rate(env, num_envs, uniform_actions, seconds, seed)

    vec = mgym.make_vec("fetch_pick_place", num_envs, engine=engine, seed=seed)
    vec.reset(seed=seed)
    vec.action_space.seed(seed)
    vec.step(vec.action_space.sample())  # compiles
    steps, start = 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - start < seconds:
        vec.step(vec.action_space.sample())
        steps += 1
    gym_rate = num_envs * steps / (time.perf_counter() - start)
    return {
        "scene": "fetch_pick_place", "peer": PEER_ID, "engine": env.task.engine_name, "num_envs": num_envs,
        "dr": True, "peer_processes": 1,
        "peer_env_steps_per_s": peer["env_steps_per_s"], "peer_gymnasium_robotics": peer["gymnasium_robotics"],
        "peer_python_flags": "-O",
        "ours_env_steps_per_s": ours["policy_steps_per_s"], "ours_compile_s": ours["compile_s"],
        "ours_gym_adapter_env_steps_per_s": gym_rate,
        "ratio_ours_vs_peer": ours["policy_steps_per_s"] / peer["env_steps_per_s"],
        "ratio_ours_gym_adapter_vs_peer": gym_rate / peer["env_steps_per_s"],
    }


if __name__ == "__main__":
    print(json.dumps(step_peer(tyro.cli(PeerArgs))))
