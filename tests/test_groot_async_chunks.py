"""bridge.groot.async_chunks: the current chunk executes while the next is planned from the
observation of its request tick; an arriving chunk is entered at the current tick; no chunk yet,
a stale or used-up chunk and failed queries hold (counted); failures in a row end the deployment.
And GR00T (the tiny model) as the deployed base on the stand-in."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import concurrent.futures
import threading

import numpy as np
import pytest

from bridge.groot.async_chunks import AsyncChunks
from mjx_gr00t.deploy.loop import BaseNotAnswering

H, N = 6, 3


class GatedPlanner:
    """chunk[i] = observation's value * 100 + i, for every joint; each query waits for a release."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.gate = threading.Semaphore(0)
        self.fail = False

    def __call__(self, observation):
        self.asked.append(observation["v"])
        self.gate.acquire(timeout=5)
        if self.fail:
            raise TimeoutError("no reply")
        return np.outer(observation["v"] * 100 + np.arange(H), np.ones(2))

    def asked_by_now(self, n: int) -> list[float]:
        """`asked` once n queries have started (they start on the worker thread)."""
        for _ in range(500):
            if len(self.asked) >= n:
                break
            threading.Event().wait(0.01)
        return self.asked

    def release_and_wait(self, chunks: AsyncChunks) -> None:
        self.gate.release()
        concurrent.futures.wait([chunks._pending[0]], timeout=5)


def test_chunks_run_ahead_of_their_queries() -> None:
    plan = GatedPlanner()
    chunks = AsyncChunks(plan, n_action_steps=N, horizon=H, max_age_s=10.0)
    assert chunks.tick({"v": 0}, now=0.0) is None and chunks.last_fault == "no_base_yet"
    assert chunks.tick({"v": 1}, now=0.1) is None  # still planning; no second query meanwhile
    plan.release_and_wait(chunks)
    # planned from tick 0's observation, arriving at tick 2: execution enters at element 2
    np.testing.assert_array_equal(chunks.tick({"v": 2}, now=0.2), [2, 2])
    assert plan.asked_by_now(2) == [0, 2]  # element 2 = N - 1: the next query goes out with tick 2's observation
    np.testing.assert_array_equal(chunks.tick({"v": 3}, now=0.3), [3, 3])  # the old chunk goes on meanwhile
    plan.release_and_wait(chunks)
    np.testing.assert_array_equal(chunks.tick({"v": 4}, now=0.4), [202, 202])  # tick 2's chunk, element 2
    assert chunks.faults["no_base_yet"] == 2 and chunks.faults["stale_base"] == 0


def test_stale_used_up_and_failing_bases_hold() -> None:
    plan = GatedPlanner()
    chunks = AsyncChunks(plan, n_action_steps=N, horizon=H, max_age_s=1.0, max_failures=2)
    chunks.tick({"v": 0}, now=0.0)
    plan.release_and_wait(chunks)
    assert chunks.tick({"v": 1}, now=1.5) is None and chunks.last_fault == "stale_base"  # 1.5 s old
    plan = GatedPlanner()
    fresh = AsyncChunks(plan, n_action_steps=N, horizon=H, max_age_s=100.0)
    fresh.tick({"v": 0}, now=0.0)
    plan.release_and_wait(fresh)
    got = [fresh.tick({"v": t}, now=0.01 * t) for t in range(1, 8)]  # the next query never answers
    assert [g is None for g in got] == [False] * 5 + [True] * 2 and fresh.faults["stale_base"] == 2
    plan.fail = True
    plan.release_and_wait(fresh)
    fresh.tick({"v": 9}, now=0.1)
    assert fresh.faults["base_failed"] == 1
    plan = GatedPlanner()
    plan.fail = True
    failing = AsyncChunks(plan, n_action_steps=N, horizon=H, max_failures=2)
    failing.tick({"v": 0}, now=0.0)
    plan.release_and_wait(failing)
    failing.tick({"v": 1}, now=0.0)
    plan.release_and_wait(failing)
    with pytest.raises(BaseNotAnswering, match="failed 2 queries in a row .*TimeoutError: no reply"):
        failing.tick({"v": 2}, now=0.0)
    with pytest.raises(ValueError, match="n_action_steps must be in 1..6"):
        AsyncChunks(plan, n_action_steps=7, horizon=H)


@pytest.mark.slow
def test_tiny_groot_drives_the_stand_in(tiny_dir, tmp_path, one_torch_thread) -> None:
    """A GR00T-base export on the tiny model: the loop's base action is GR00T's chunk element for
    the tick, converted against the running command, as in training."""
    from bridge.deploy_side import groot_planner, load_residual
    from mjx_gr00t.deploy.controller import DeployPolicy
    from bridge.groot.planner import export_record
    from bridge.groot.policy import GrootBase
    from mjx_gr00t.deploy.loop import DeployLoop, LoopConfig
    from mjx_gr00t.deploy.robot import position_keys
    from mjx_gr00t.deploy.sim_robot import SimRobot, SimRobotConfig
    from mjx_gr00t.groot_settings import GrootSettings
    from mjx_gr00t.render import RenderBackendError
    from mjx_gr00t.residual_env import build_residual_env, scene_config
    from test_deploy import _write

    settings = GrootSettings(model=tiny_dir, n_action_steps=4)
    env = build_residual_env("paper_square", scene_config("paper_square", 1, "c", True), "ik")
    export = _write(str(tmp_path / "export"), env, base="groot", groot=export_record(settings))
    robot = SimRobot(SimRobotConfig(cameras=("front", "wrist")))
    try:
        robot.connect()
    except RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    groot = GrootBase.from_export(export)
    chunks = AsyncChunks(groot_planner(groot), groot.n_action_steps, groot.action_horizon, 1.0)
    policy = DeployPolicy.for_export(load_residual(export), robot.task, chunks=chunks)
    seen = []

    class Recording:
        def reset(self):
            policy.reset()

        def __call__(self, present, previous, est, command, observation=None):
            target, parts = policy(present, previous, est, command, observation)
            seen.append((observation, command, target, parts))
            return target, parts

    steps = 30  # 3 s at 10 Hz: the first chunk (renderer and model warm-up) comes late on a loaded machine
    config = LoopConfig(episode_steps=steps, realtime=True, hz=10.0, max_relative_target=None, watchdog_s=5.0)
    record = DeployLoop(robot, Recording(), robot.units, lambda obs: robot.paper_estimate(), config,
                        log_ticks=False).run_episode(robot.start_episode)
    robot.disconnect()
    assert record.steps == steps and record.faults["no_base_yet"] >= 1
    driven = [(o, c, p) for o, c, t, p in seen if t is not None]
    assert len(driven) >= 6 and sum(record.faults.values()) == steps - len(driven)
    # the first driven tick uses the first chunk, planned from the first observation
    first_obs = seen[0][0]
    joints = robot.units.to_rad(np.array([first_obs[k] for k in position_keys()]))
    chunk = groot_planner(groot, seed=0)({**first_obs, "joints": joints})  # the deploy's first query: seed 0
    assert chunk.shape == (16, 6)
    index = next(i for i, (_, _, t, _) in enumerate(seen) if t is not None)
    _, command, parts = driven[0]
    want = np.clip((chunk[index] - command) / policy.task.config.act_scale, -1, 1)
    np.testing.assert_allclose(parts["base"], want, atol=1e-4)
