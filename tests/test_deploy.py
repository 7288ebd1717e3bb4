"""train.deploy on the `sim` stand-in: the stand-in reports and obeys like a calibrated SO-101, and the
deployed loop (torch residual + IK base from robot readings) reproduces the twin's own residual env
step for step from the same episode; bad exports and flags are one line."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import dataclasses
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.training.acme import running_statistics
from export_samples import _mlp

from bridge import deploy_side
from mjx_gr00t.bases.rig_drag import RigDragConfig
from mjx_gr00t.deploy import cli
from mjx_gr00t.deploy.controller import DeployPolicy
from mjx_gr00t.deploy.loop import DeployLoop, LoopConfig
from mjx_gr00t.deploy.robot import JointUnits, position_keys
from mjx_gr00t.deploy.sim_robot import SimRobot, SimRobotConfig
from mjx_gr00t.envs.paper_rig_config import ARM_JOINTS, PaperRigConfig, load_model
from mjx_gr00t.errors import UsageError
from mjx_gr00t.export.read import export_policy_fn, load_export
from mjx_gr00t.export.spec import ExportSpec
from mjx_gr00t.export.write import write_export
from mjx_gr00t.residual_env import build_residual_env, scene_config

ALPHA = 0.5


@pytest.fixture(scope="module")
def env():
    config = scene_config("paper_square", 1, "c", True)
    return build_residual_env("paper_square", config, "ik")


def _write(out: str, env, obs_mode: str = "robot", seed: int = 0, base: str = "ik", groot=None) -> str:
    """A random (untrained) residual of the env's actor layout, exported as training would."""
    rng = np.random.default_rng(seed)
    size = env.spec.actor_observation_size
    params = {"params": {"mean": _mlp(rng, (size, 16, 6)), "log_std": np.zeros(6, np.float32)}}
    params["params"]["mean"]["head"]["kernel"] *= 0.3
    std = np.ones(size, np.float32)
    normalizer = running_statistics.RunningStatisticsState(
        mean=np.zeros(size, np.float32), std=std, count=np.float32(1.0), summed_variance=std)
    spec = ExportSpec(scene="paper_square", base=base, algo="ppo", hidden=(16,), activation="swish",
                      normalize_obs=True, obs_clip=10.0, obs_layout=env.spec.actor_layout, obs_mode=obs_mode,
                      alpha=ALPHA, act_scale=env.spec.action_scale, joint_names=ARM_JOINTS,
                      joint_ranges=env.spec.action_ranges,
                      base_config=tuple(dataclasses.asdict(RigDragConfig()).items()) if base == "ik" else (),
                      groot=groot)
    return write_export(out, params, normalizer, spec)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, env) -> str:
    return _write(str(tmp_path_factory.mktemp("export")), env)


def test_stand_in_reports_like_a_calibrated_so101_and_models_latency() -> None:
    robot = SimRobot(SimRobotConfig(seed=3, command_latency_steps=2, cameras=()))
    robot.connect()
    obs = robot.get_observation()
    assert list(obs) == list(position_keys())
    units = robot.units
    home = np.asarray(PaperRigConfig().home_qpos)
    reading = np.array([obs[k] for k in position_keys()])
    # degrees from the calibrated middle, in whole ticks (LeRobot: (t - mid) * 360 / 4095)
    ticks = reading[:5] * 4095 / 360 + np.asarray(units.tick_ranges, float)[:5].mean(axis=1)
    np.testing.assert_allclose(ticks, np.round(ticks), atol=1e-3)
    np.testing.assert_allclose(units.to_rad(reading), home, atol=2 * math.pi / 4096)
    assert 0 <= reading[5] <= 100
    # a goal 2 degrees away on every arm joint: the servos hold still for the 2 latency ticks
    goal = dict(zip(position_keys(), [*(reading[:5] + 2.0), reading[5]]))
    applied = []
    for _ in range(4):
        sent = robot.send_action(goal)
        applied.append(np.asarray(robot.state.info.applied))
    np.testing.assert_allclose([sent[k] for k in position_keys()][:5], reading[:5] + 2.0, atol=1e-6)
    assert np.allclose(applied[0], applied[1]) and not np.allclose(applied[1], applied[2])
    robot.disconnect()
    with pytest.raises(RuntimeError, match="not connected"):
        robot.get_observation()


def test_stand_in_renders_both_cameras_at_the_rigs_size() -> None:
    from mjx_gr00t import render

    robot = SimRobot(SimRobotConfig(seed=0))
    try:
        robot.connect()
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    obs = robot.get_observation()
    robot.disconnect()
    for cam in ("front", "wrist"):
        assert obs[cam].shape == (240, 320, 3) and obs[cam].dtype == np.uint8 and obs[cam].std() > 5


def test_deployed_loop_matches_the_twins_residual_env(env, export_dir) -> None:
    """Same episode key, noise-model perception: the loop's inputs, base and total action equal the
    residual env's, step by step, through the robot's units and the torch residual."""
    tensors, meta = load_export(export_dir)
    residual = export_policy_fn(tensors, meta)
    indices = np.asarray(env.spec.actor_indices)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    key = jax.random.PRNGKey(11)
    state = reset(key)
    _, k_task = jax.random.split(key)  # EpisodeEnv.reset's split: the task's own reset key
    robot = SimRobot(SimRobotConfig(cameras=()))
    robot.connect()
    controller = DeployPolicy.for_export(deploy_side.load_residual(export_dir), robot.task)
    seen_totals = []

    class Recording:
        def reset(self):
            controller.reset()

        def __call__(self, *args):
            target, parts = controller(*args)  # the IK base: no camera frames needed
            seen_totals.append((parts["obs"], parts["total"]))
            return target, parts

    config = LoopConfig(episode_steps=60, realtime=False, max_relative_target=None, watchdog_s=30.0)
    loop = DeployLoop(robot, Recording(), robot.units, lambda obs: robot.paper_estimate(), config, log_ticks=False)
    record = loop.run_episode(lambda: robot.start_episode(k_task))
    robot.disconnect()
    assert sum(record.faults.values()) == 0 and record.steps == len(seen_totals)
    for t, (obs, total) in enumerate(seen_totals):
        env_obs = np.asarray(state.obs)[indices]
        np.testing.assert_allclose(obs, env_obs, atol=2e-4, err_msg=f"inputs at step {t}")
        u = ALPHA * np.asarray(residual(jnp.asarray(env_obs)))
        want = np.clip(env_obs[-6:] + u, -1, 1)
        np.testing.assert_allclose(total, want, atol=2e-4, err_msg=f"total action at step {t}")
        state = step(state, jnp.asarray(u))
    assert np.abs(np.asarray([t for _, t in seen_totals])).max() > 0.5  # the base moved the arm


def test_exports_that_do_not_fit_are_one_line(env, export_dir, tmp_path) -> None:
    privileged = _write(str(tmp_path / "priv"), env, obs_mode="privileged")
    with pytest.raises(UsageError, match="reads 'privileged' observations, which a real SO-101 cannot give"):
        cli.deploy(cli.Args(export=privileged, perception="model"), deploy_side)
    meta_path = os.path.join(export_dir, "residual.json")
    meta = json.load(open(meta_path))
    other = tmp_path / "other"
    other.mkdir()
    for name in os.listdir(export_dir):
        (other / name).write_bytes(open(os.path.join(export_dir, name), "rb").read())
    meta["units"]["joints"][4]["range_rad"] = [-3.0, 3.0]
    (other / "residual.json").write_text(json.dumps(meta))
    with pytest.raises(UsageError, match="joint ranges .* differ from the twin's"):
        cli.deploy(cli.Args(export=str(other), perception="model"), deploy_side)
    for args, message in [
        (cli.Args(export=export_dir, robot="so101"), "needs --port"),
        (cli.Args(export=export_dir, robot="so101", port="/dev/null", perception="model"), "only the sim stand-in"),
        (cli.Args(export=export_dir, command_latency_ms=50), "0, 1 or 2 ticks"),
        (cli.Args(export=str(tmp_path / "none")), "is not a directory"),
        (cli.Args(export=export_dir, episodes=0), "--episodes must be >= 1"),
        (cli.Args(export=export_dir, perception="model", use_degrees=False), r"records LeRobot units .* the robot reports"),
    ]:
        with pytest.raises(UsageError, match=message):
            cli.deploy(args, deploy_side)


def test_so101_without_lerobot_says_how_to_install(export_dir) -> None:
    pytest.importorskip("torch")
    try:
        import lerobot  # noqa: F401
        pytest.skip("LeRobot is installed here")
    except ImportError:
        pass
    with pytest.raises(UsageError, match=r"needs LeRobot's SO-101 driver: .*pip install -e '\.\[robot\]'"):
        cli.deploy(cli.Args(export=export_dir, robot="so101", port="/dev/ttyACM0", front_camera="0"), deploy_side)


def test_a_scored_run_writes_its_record(export_dir, tmp_path) -> None:
    out = tmp_path / "deploy.json"
    record = cli.deploy(cli.Args(export=export_dir, episodes=2, perception="model", json=str(out),
                                       log=str(tmp_path / "log"), command_latency_ms=33.3), deploy_side)
    assert json.loads(out.read_text())["episodes"] == 2 and 0 <= record["success_rate"] <= 1
    assert record["tick_ms"]["ticks"] == sum(1 for _ in open(tmp_path / "log" / "ticks.jsonl"))
    assert record["faults"]["late_tick"] == 0 and record["machine"]


def test_record_writes_the_deployed_episodes_as_a_dataset(export_dir, tmp_path) -> None:
    """--record: each episode's readings, goals and both cameras as LeRobot v2.1; a second run resumes."""
    import pyarrow.parquet as pq

    from mjx_gr00t import render
    from mjx_gr00t.datasets.video import probe

    out = tmp_path / "data"
    args = cli.Args(export=export_dir, episodes=1, perception="model", record=str(out), seed=5)
    try:
        first = cli.deploy(args, deploy_side)
    except UsageError as e:
        if "could not start" not in str(e) and "OSMesa" not in str(e):
            raise  # only a missing GL backend may skip this test
        pytest.skip(f"no rendering backend on this machine: {e}")
    cli.deploy(dataclasses.replace(args, seed=6), deploy_side)
    info = json.load(open(out / "meta" / "info.json"))
    assert info["total_episodes"] == 2 and info["total_frames"] > 0
    table = pq.read_table(out / "data" / "chunk-000" / "episode_000000.parquet")
    assert table.num_rows == int(first["mean_steps"])
    states = np.stack(table["observation.state"].to_numpy(zero_copy_only=False))
    units = JointUnits.nominal(load_model(PaperRigConfig()).jnt_range[:6])
    home = units.from_rad(np.asarray(PaperRigConfig().home_qpos))  # degrees from the calibrated middle
    np.testing.assert_allclose(states[0], home, atol=0.1)  # as the robot reported them
    assert table["next.success"].to_pylist()[-1] == (first["success_rate"] == 1.0)
    meta = probe(str(out / "videos" / "chunk-000" / "observation.images.secondary_0" / "episode_000000.mp4"))
    assert (meta["width"], meta["height"], meta["frames"]) == (320, 240, table.num_rows)
    del render


@pytest.mark.slow
def test_tick_benchmark_rows(export_dir, tmp_path) -> None:
    from benchmarks import deploy_ticks
    from mjx_gr00t import render

    try:
        record = deploy_ticks.main(deploy_ticks.Args(export=export_dir, episodes=1, json=str(tmp_path / "t.json")))
    except (render.RenderBackendError, UsageError) as e:
        if not isinstance(e, render.RenderBackendError) and "could not start" not in str(e) and "OSMesa" not in str(e):
            raise  # only a missing GL backend may skip this test
        pytest.skip(f"no rendering backend on this machine: {e}")
    rows = record["rows"]
    assert set(rows) == {"ik", "ik_camera", "groot_zmq"}
    for row in rows.values():
        t = row["tick_ms"]
        assert t["ticks"] > 0 and 0 < t["compute_median_ms"] <= t["median_ms"]
    assert rows["groot_zmq"]["groot_query_ms"]["queries"] > 0 and rows["ik"]["args"]["realtime"]
    assert rows["groot_zmq"]["faults"]["no_base_yet"] <= 3  # warmed up before the first tick
