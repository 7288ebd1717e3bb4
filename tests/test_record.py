"""`python -m train.record`: a side-by-side front | wrist mp4 of a tiny trained run, and clear errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import imageio.v2 as imageio
import jax.numpy as jnp
import numpy as np
import pytest

from bridge.groot import planner
from train import record, residual_ppo
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner.finish import residual_act
from mjx_gr00t.runner.trained import load_trained

# 4 envs x 4 steps = 16 env steps per iteration; 2 iterations, no end-of-run evaluation.
TINY = [
    "--num-envs", "4", "--unroll-length", "4", "--num-minibatches", "2", "--update-epochs", "1",
    "--policy-hidden", "16", "16", "--value-hidden", "16", "16", "--total-steps", "32", "--engine", "c", "--wandb", "disabled",
    "--eval-episodes", "0",
]
SIZE = 48
STEPS = 6  # policy steps per recorded episode: far too few for the paper to reach the square


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    residual_ppo.main([*TINY, "--out", str(out)])
    return str(out)


@pytest.fixture(scope="module")
def gl(run) -> None:
    """Skips, saying why and how to fix it, where no OpenGL backend works."""
    try:
        render.renderer_for_env(load_trained(run, groot=planner).env, height=8, width=8).close()
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # imageio's reader starts ffmpeg
def test_video_is_front_beside_wrist_for_every_policy_step(run, gl, tmp_path):
    out = tmp_path / "video.mp4"
    result = record.main(["--run", run, "--episodes", "2", "--max-steps", str(STEPS), "--size", str(SIZE),
                          "--out", str(out)])
    assert result["length"] == [STEPS, STEPS] and result["success"] == [False, False]
    reader = imageio.get_reader(str(out))
    frames = np.stack(list(reader.iter_data()))  # len(reader) is inf: no list(reader)
    assert reader.get_meta_data()["fps"] == 30.0  # paper_square's policy rate
    assert frames.shape == (2 * STEPS, SIZE, 2 * SIZE, 3) and frames.dtype == np.uint8

    # The first frame of each episode shows its initial state: front on the left, wrist on the right.
    # Loaded as train.record loads it (groot=planner): the same env object, so its rollout is reused.
    trained = load_trained(run, groot=planner)
    qpos = record.rollout(trained.env, residual_act(trained.policy_fn),
                          (trained.params, jnp.float32(trained.config.residual.alpha)), 2, 1_000_000, STEPS).qpos
    with render.renderer_for_env(trained.env, height=SIZE, width=SIZE) as r:
        truth = r.render(qpos[0])
    for episode in range(2):
        shown = frames[episode * STEPS].astype(int)
        front, wrist = truth["front"][episode].astype(int), truth["wrist"][episode].astype(int)
        err = np.abs(shown - np.concatenate([front, wrist], axis=1)).mean()
        swapped = np.abs(shown - np.concatenate([wrist, front], axis=1)).mean()
        assert err < 10 and err < swapped / 3, (episode, err, swapped)  # H.264 is lossy, not this lossy


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_base_only_and_one_camera(run, gl, tmp_path):
    out = tmp_path / "base.mp4"
    # Same episodes and steps as above: the compiled rollout is reused (alpha is data).
    result = record.main(["--run", run, "--base-only", "--episodes", "2", "--max-steps", str(STEPS), "--size", "32",
                          "--cameras", "wrist", "--fps", "10", "--out", str(out)])
    reader = imageio.get_reader(str(out))
    assert result["frames"] == 2 * STEPS and reader.get_meta_data()["fps"] == 10.0
    assert np.stack(list(reader.iter_data())).shape == (2 * STEPS, 32, 32, 3)


@pytest.mark.slow
def test_a_camera_the_scene_lacks_lists_its_cameras(run, tmp_path):
    with pytest.raises(UsageError, match=r"no camera \['top'\]; its cameras are \['front', 'wrist'\]"):
        record.main(["--run", run, "--cameras", "top", "--out", str(tmp_path / "v.mp4")])


@pytest.mark.parametrize("flags, message", [
    (["--run", "/nonexistent/run"], "run directory '/nonexistent/run' does not exist"),
    (["--run", ".", "--size", "33"], "--size must be an even number"),
    (["--run", ".", "--episodes", "0"], "--episodes must be >= 1"),
    (["--run", ".", "--fps", "0"], "--fps must be > 0"),
    (["--run", ".", "--out", "video.gif"], "--out must name an .mp4 file"),
    (["--run", ".", "--out", "/nonexistent/dir/v.mp4"], "its directory does not exist"),
])
def test_bad_flags_are_clear_errors(flags, message, tmp_path):
    if "--out" not in flags:
        flags = [*flags, "--out", str(tmp_path / "v.mp4")]
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        record.main(flags)


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        record.main(["-h"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())  # tyro wraps text in a box
    for flag in ("--run", "--out", "--episodes", "--seed", "--base-only", "--fps", "--size", "--cameras",
                 "--max-steps", "--backend"):
        assert flag in text, flag
    assert "policy rate" in text and "front | wrist" in text
