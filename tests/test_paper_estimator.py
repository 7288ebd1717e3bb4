"""perception.camera_model and perception.paper_estimator: the pinhole model against MuJoCo's
camera, the estimator on synthetic images (exact pixels) and on the paper_rig scene's rendered top
camera (sheet poses over the DR ranges, the arm at home, the arm over the sheet)."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)
from mjx_gr00t import render  # before mujoco: it picks the GL backend

import math

import mujoco
import numpy as np
import pytest

from mjx_gr00t.envs import registry
from mjx_gr00t.envs.paper_estimate import angle_error, corners
from mjx_gr00t.envs.paper_rig_config import PaperRigConfig
from mjx_gr00t.perception.camera_model import CameraModel
from mjx_gr00t.perception.paper_estimator import estimate_paper

WIDTH, HEIGHT = 320, 240
CONFIG = PaperRigConfig(engine="c", num_envs=1)
PAPER = 6  # qpos index of the sheet's x (its free joint follows the six arm joints)
ARM_OVER_SHEET = np.array([0.0, 0.15, -0.3, 0.0, 0.0, 0.0])
"""Added to home_qpos: the jaws come down over the near long edge of a sheet at its start pose,
hiding ~40 % of it."""
BLACK, WHITE, YELLOW = (15, 15, 16), (250, 250, 248), (235, 190, 30)


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return registry.make("paper_square", CONFIG).mj_model


@pytest.fixture(scope="module")
def camera(model) -> CameraModel:
    return CameraModel.from_mujoco(model, "front", WIDTH, HEIGHT)


@pytest.fixture(scope="module")
def renderer(model):
    try:
        r = render.BatchRenderer(model, cameras=("front",), height=HEIGHT, width=WIDTH)
    except render.RenderBackendError as e:
        pytest.skip(f"no rendering backend on this machine: {e}")
    yield r
    r.close()


def rig_qpos(model: mujoco.MjModel, x: float, y: float, yaw: float, arm_offset: np.ndarray | None = None) -> np.ndarray:
    """(nq,): the arm at home (plus arm_offset (6,)), the sheet flat at (x, y) turned by yaw."""
    q = model.qpos0.copy()
    q[:6] = np.asarray(CONFIG.home_qpos) + (0.0 if arm_offset is None else arm_offset)
    q[PAPER:PAPER + 2] = x, y
    q[PAPER + 3:PAPER + 7] = math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)
    return q


def synthetic(camera: CameraModel, x: float, y: float, yaw: float,
              cover: tuple[int, float] | None = None) -> np.ndarray:
    """uint8 (H, W, 3): a white sheet of CONFIG.paper_size at (x, y, yaw) on black, drawn where pixel
    centres fall. cover (sign, d): a yellow occluder over the sheet's long-axis end `sign`, d m deep."""
    rows, cols = np.mgrid[0:camera.height, 0:camera.width]
    table = camera.pixels_to_table(np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], -1))[:, :2]
    c, s = math.cos(yaw), math.sin(yaw)
    local = (table - [x, y]) @ np.array([[c, -s], [s, c]])
    half = 0.5 * np.asarray(CONFIG.paper_size)
    image = np.full((camera.height * camera.width, 3), BLACK, np.uint8)
    image[np.all(np.abs(local) <= half, axis=1)] = WHITE
    if cover is not None:
        sign, depth = cover
        hidden = (sign * local[:, 0] >= half[0] - depth) & (np.abs(local[:, 1]) <= half[1] + 0.01)
        image[hidden] = YELLOW
    return image.reshape(camera.height, camera.width, 3)


def errors(est, x: float, y: float, yaw: float) -> tuple[float, float]:
    """Centre error (m) and yaw error modulo 180 degrees (rad)."""
    return float(np.hypot(est.centre[0] - x, est.centre[1] - y)), float(angle_error(est.yaw, yaw))


# ----- camera model -----
def test_front_camera_looks_down_with_x_up_in_the_image(camera: CameraModel) -> None:
    assert camera.focal == pytest.approx(0.5 * HEIGHT / math.tan(math.radians(45.0)))
    cx, cy = CONFIG.frame_centre
    pixels = camera.project(np.array([[cx, cy, 0.0], [cx + 0.1, cy, 0.0], [cx, cy + 0.1, 0.0]]))
    np.testing.assert_allclose(pixels[0], [WIDTH / 2, HEIGHT / 2], atol=1e-9)
    np.testing.assert_allclose(pixels[1] - pixels[0], [0.0, -30.0], atol=1e-9)  # +x up: 0.1 m at 0.4 m, f 120
    np.testing.assert_allclose(pixels[2] - pixels[0], [-30.0, 0.0], atol=1e-9)  # +y to the left


def test_project_and_pixels_to_table_invert_each_other(camera: CameraModel) -> None:
    rng = np.random.default_rng(0)
    tilted = CameraModel(pos=[0.1, 0.2, 0.5], rot=_rotation(0.2, -0.1, 0.7), fovy=60.0, width=WIDTH, height=HEIGHT)
    for cam in (camera, tilted):
        points = np.concatenate([rng.uniform(-0.1, 0.4, (50, 2)), np.full((50, 1), 0.01)], axis=1)
        np.testing.assert_allclose(cam.pixels_to_table(cam.project(points), z=0.01), points, atol=1e-12)
    behind = camera.project(np.array([[0.275, 0.175, 0.5]]))
    assert np.all(np.isnan(behind))


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    quat = np.zeros(4)
    mat = np.zeros(9)
    mujoco.mju_euler2Quat(quat, np.array([rx, ry, rz]), "xyz")
    mujoco.mju_quat2Mat(mat, quat)
    return mat.reshape(3, 3)


def test_camera_model_rejects_bad_input(model) -> None:
    with pytest.raises(ValueError, match=r"no camera 'top'.*\['front', 'wrist'\]"):
        CameraModel.from_mujoco(model, "top", WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="rotation matrix"):
        CameraModel(pos=np.zeros(3), rot=np.diag([1.0, 1.0, -1.0]), fovy=90.0, width=WIDTH, height=HEIGHT)
    with pytest.raises(ValueError, match="fovy"):
        CameraModel(pos=np.zeros(3), rot=np.eye(3), fovy=180.0, width=WIDTH, height=HEIGHT)


# ----- estimator on synthetic images -----
@pytest.mark.parametrize("x, y, yaw", [
    (0.275, 0.175, 0.0), (0.30, 0.14, 0.25), (0.02, 0.21, -0.3), (0.25, 0.20, 1.2), (0.10, 0.15, 2.9),
])
def test_a_whole_synthetic_sheet(camera: CameraModel, x: float, y: float, yaw: float) -> None:
    image = synthetic(camera, x, y, yaw)
    est = estimate_paper(image, camera, CONFIG.paper_size)
    assert est is not None
    assert est.pixel_count == int(np.all(image == WHITE, axis=-1).sum())
    assert est.area_ratio == pytest.approx(1.0, abs=0.03)
    assert est.truncated == (False, False)
    centre_err, yaw_err = errors(est, x, y, yaw)
    assert centre_err < 0.5 * 0.4 * 2 / HEIGHT + 1e-4, centre_err  # within half a pixel (1.7 mm)
    assert yaw_err < 0.01, yaw_err
    assert -math.pi / 2 <= est.yaw < math.pi / 2
    expected = np.asarray(corners(np.array([x, y]), yaw, 0.5 * np.asarray(CONFIG.paper_size)))
    np.testing.assert_allclose(est.corners, expected, atol=0.003)


@pytest.mark.parametrize("sign", [1, -1])
def test_a_sheet_half_hidden_is_placed_by_its_known_size(camera: CameraModel, sign: int) -> None:
    x, y, yaw = 0.27, 0.18, 0.2
    est = estimate_paper(synthetic(camera, x, y, yaw, cover=(sign, 0.09)), camera, CONFIG.paper_size)
    assert est is not None and est.truncated == (True, False)
    assert est.area_ratio == pytest.approx(1 - 0.09 / 0.21, abs=0.03)
    centre_err, yaw_err = errors(est, x, y, yaw)
    assert centre_err < 0.003 and yaw_err < 0.01, (centre_err, yaw_err)


def test_a_sheet_cut_by_the_image_border(camera: CameraModel) -> None:
    x, y, yaw = -0.07, 0.20, 0.0  # the image ends at x = -0.125: 5 cm of the sheet lie outside
    est = estimate_paper(synthetic(camera, x, y, yaw), camera, CONFIG.paper_size)
    assert est is not None and est.truncated == (True, False)
    centre_err, yaw_err = errors(est, x, y, yaw)
    assert centre_err < 0.003 and yaw_err < 0.01, (centre_err, yaw_err)


def test_no_sheet_is_none_and_a_wrong_image_is_an_error(camera: CameraModel) -> None:
    assert estimate_paper(np.zeros((HEIGHT, WIDTH, 3), np.uint8), camera) is None
    speck = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    speck[100:110, 100:110] = 255  # 10 x 10 pixels: ~4 % of a sheet
    assert estimate_paper(speck, camera) is None
    tape = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    tape[50:150, 50:150] = (220, 40, 40)  # red: not paper
    assert estimate_paper(tape, camera) is None
    with pytest.raises(ValueError, match=r"uint8 \(240, 320, 3\)"):
        estimate_paper(np.zeros((HEIGHT, WIDTH), np.uint8), camera)


# ----- estimator on the rendered scene -----
POSES = [  # x, y, yaw: around the start pose and around the frame centre, over the DR ranges
    (0.025, 0.175, 0.0), (0.075, 0.125, 0.3), (-0.025, 0.225, -0.3), (0.05, 0.21, 0.12),
    (0.275, 0.175, 0.0), (0.325, 0.225, -0.3), (0.225, 0.125, 0.3), (0.25, 0.19, -0.17),
]


def test_rendered_sheet_poses_with_the_arm_at_home(renderer, camera: CameraModel, model) -> None:
    images = renderer.render(np.stack([rig_qpos(model, *pose) for pose in POSES]))["front"]
    for image, (x, y, yaw) in zip(images, POSES):
        est = estimate_paper(image, camera, CONFIG.paper_size)
        assert est is not None, (x, y, yaw)
        centre_err, yaw_err = errors(est, x, y, yaw)
        assert centre_err < 0.005 and yaw_err < 0.03, ((x, y, yaw), centre_err, yaw_err)


def test_rendered_sheet_partly_under_the_jaws(renderer, camera: CameraModel, model) -> None:
    x, y, yaw = *CONFIG.paper_start, 0.0
    image = renderer.render(rig_qpos(model, x, y, yaw, ARM_OVER_SHEET)[None])["front"][0]
    est = estimate_paper(image, camera, CONFIG.paper_size)
    assert est is not None
    assert est.area_ratio < 0.8, f"the arm hides only {1 - est.area_ratio:.0%} of the sheet"
    centre_err, yaw_err = errors(est, x, y, yaw)
    assert centre_err < 0.010 and yaw_err < 0.03, (centre_err, yaw_err)
