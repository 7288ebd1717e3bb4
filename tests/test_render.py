"""mjx_gr00t.render: batched front + wrist images from qpos, with MuJoCo's OpenGL renderer (OSMesa on a
CPU-only machine) and, where warp-lang is installed, MJX's Warp batch renderer."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import importlib.util
import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.fetch.push import FetchPushConfig
from mjx_gr00t.envs.paper_card import PaperCardConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER_XML = os.path.join(REPO, "envs_xml", "so101_paper_card.xml")
ARM_MOVE = np.array([0.4, -0.3, 0.3, -0.4, 0.8, 0.5])  # rad, added to the six arm joints
PAPER_X = 6  # qpos index of the paper's x (its free joint follows the six arm joints)


def open_or_skip(model: mujoco.MjModel, **kwargs) -> render.BatchRenderer:
    """A BatchRenderer, or a skip that says why no GL backend works here and how to fix it."""
    try:
        return render.BatchRenderer(model, **kwargs)
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(PAPER_XML)


@pytest.fixture(scope="module")
def renderer(model):
    r = open_or_skip(model)
    yield r
    r.close()


@pytest.fixture(scope="module")
def poses(model) -> np.ndarray:
    """(3, nq): the home pose; the arm moved; the paper moved 5 cm in x (arm at home)."""
    home = model.qpos0.copy()
    home[:6] = PaperCardConfig().home_qpos
    moved, paper = home.copy(), home.copy()
    moved[:6] += ARM_MOVE
    paper[PAPER_X] += 0.05
    return np.stack([home, moved, paper])


def test_images_are_uint8_batches_of_each_camera(renderer, poses):
    images = renderer.render(poses)
    assert sorted(images) == ["front", "wrist"]
    for name, batch in images.items():
        assert batch.shape == (3, 224, 224, 3) and batch.dtype == np.uint8, name
        assert batch[0].std() > 10, f"{name} view is a flat colour: nothing drawn"


def test_same_pose_same_image_other_pose_other_image(renderer, poses):
    first, again = renderer.render(poses[:2]), renderer.render(poses[:2])
    for name in renderer.cameras:
        np.testing.assert_array_equal(first[name], again[name])
        assert np.abs(first[name][1].astype(int) - first[name][0]).mean() > 1.0, name


def test_wrist_view_follows_the_arm(renderer, poses):
    wrist = renderer.render(poses[:2])["wrist"].astype(int)
    assert np.abs(wrist[1] - wrist[0]).mean() > 10.0


def test_front_view_sees_the_paper_move(renderer, poses):
    front = renderer.render(poses[[0, 2]])["front"]
    changed = np.any(front[0] != front[1], axis=-1).mean()
    assert changed > 0.002, f"only {changed:.2%} of the front view changed when the paper moved 5 cm"


def test_a_batch_equals_single_renders(renderer, poses):
    batch = renderer.render(poses)
    for i in range(len(poses)):
        one = renderer.render(poses[i:i + 1])
        for name in renderer.cameras:
            np.testing.assert_array_equal(batch[name][i], one[name][0])


def test_size_and_camera_subset(model, poses):
    with open_or_skip(model, cameras=("wrist",), height=48, width=80) as small:
        images = small.render(poses[:2])
    assert list(images) == ["wrist"] and images["wrist"].shape == (2, 48, 80, 3)


def test_without_antialiasing_only_edges_differ(model, poses):
    """The chunk planner's fast path: no multisampling; the same picture, edges aside."""
    with open_or_skip(model, cameras=("front",), height=240, width=320) as smooth, \
            open_or_skip(model, cameras=("front",), height=240, width=320, antialias=False) as sharp:
        a, b = smooth.render(poses)["front"].astype(int), sharp.render(poses)["front"].astype(int)
    diff = np.abs(a - b)
    assert diff.max() > 0  # multisampling was on, and is off
    assert diff.mean() < 3.0 and np.mean(diff.max(axis=-1) > 40) < 0.05, (diff.mean(), np.mean(diff.max(axis=-1) > 40))


def test_bad_camera_names_the_scene_cameras(model):
    with pytest.raises(ValueError, match=r"no camera \['top'\].*\['front', 'wrist'\]"):
        render.BatchRenderer(model, cameras=("front", "top"))


def test_bad_input_is_a_clear_error(renderer, model):
    with pytest.raises(ValueError, match=r"qpos must be \(B, nq=13\)"):
        renderer.render(np.zeros(model.nq))
    with pytest.raises(ValueError, match="unknown render backend 'vulkan'"):
        render.BatchRenderer(model, backend="vulkan")
    with pytest.raises(ValueError, match="size must be >= 1"):
        render.BatchRenderer(model, height=0)


def test_render_after_close_raises_and_close_twice_is_fine(model, poses):
    r = open_or_skip(model, cameras=("front",), height=32, width=32)
    r.close()
    r.close()
    with pytest.raises(RuntimeError, match="after close"):
        r.render(poses[:1])


def test_fetch_scene_renders_its_front_camera_only():
    env = registry.make("fetch_push", FetchPushConfig(num_envs=1, engine="c"))
    model = env.mj_model
    with pytest.raises(ValueError, match=r"no camera \['wrist'\].*\['front'\]"):
        render.BatchRenderer(model, cameras=("front", "wrist"))
    try:
        r = render.renderer_for_env(env, height=32, width=32)
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    with r:
        assert r.cameras == ("front",)
        assert r.render(np.tile(model.qpos0, (2, 1)))["front"].shape == (2, 32, 32, 3)


def test_gl_backend_respects_a_user_choice(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "EGL")
    assert render.gl_backend() == "egl"
    monkeypatch.setenv("MUJOCO_GL", "")
    assert render.gl_backend() == ("egl" if os.path.exists("/dev/nvidiactl") else "osmesa")


def test_an_unloadable_gl_backend_says_how_to_fix_it():
    """OSMesa asked for while PyOpenGL is bound to EGL: the error names the backend and the fix."""
    code = ("from mjx_gr00t import render; import mujoco\n"
            f"m = mujoco.MjModel.from_xml_path({PAPER_XML!r})\n"
            "try:\n    render.BatchRenderer(m, backend='osmesa')\n"
            "except render.RenderBackendError as e:\n    print('ERROR', e)\n")
    env = {**os.environ, "PYTHONPATH": REPO, "MUJOCO_GL": "osmesa", "PYOPENGL_PLATFORM": "egl"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "ERROR OpenGL backend 'osmesa' cannot load" in out.stdout, out.stdout + out.stderr
    assert "libosmesa6" in out.stdout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("warp") is None, reason="warp-lang not installed (pip install warp-lang==1.18.0)")
def test_warp_batch_renderer(model, poses):
    """MJX's Warp renderer (one call for the batch): shapes, a batch padded to the context's worlds,
    and the wrist view follows the arm. Its ray tracer shades differently from OpenGL, so images are
    not compared across backends. On a CPU its kernels take minutes to compile."""
    with render.BatchRenderer(model, height=64, width=64, backend="warp") as r:
        images = r.render(poses)  # 3 envs in a context of 4 worlds
        one = r.render(poses[1:2])  # the same context, padded
    for name in ("front", "wrist"):
        np.testing.assert_array_equal(one[name][0], images[name][1])
        assert images[name].shape == (3, 64, 64, 3) and images[name].dtype == np.uint8
        assert images[name][0].std() > 10, name
    assert np.abs(images["wrist"][1].astype(int) - images["wrist"][0]).mean() > 10.0

