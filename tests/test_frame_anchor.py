"""perception.frame_anchor: the tape's colour test, the ring's geometry, and the fit on synthetic
frames whose camera is off by a known similarity (shift, turn, scale), with strips of the tape
covered by the sheet or the arm, or not in view."""

import math

import numpy as np
import pytest

from mjx_gr00t.envs.paper_rig_config import PaperRigConfig
from mjx_gr00t.perception.camera_model import CameraModel
from mjx_gr00t.perception.frame_anchor import (
    FrameFit, TapeFrame, estimate_paper_in_frame, fit_frame, outside_ring, red_mask,
)
from mjx_gr00t.perception.paper_estimator import estimate_paper

CONFIG = PaperRigConfig()
FRAME = TapeFrame.from_config(CONFIG)
BLACK, WHITE, RED, YELLOW = (15, 15, 16), (250, 250, 248), (135, 24, 24), (235, 190, 30)
# A camera off its calibration, as the table sees it: the scene appears shifted, turned and scaled.
OFF = FrameFit(centre=np.asarray(FRAME.centre) + [0.007, -0.005], yaw=0.012, scale=1.02)


@pytest.fixture(scope="module")
def camera() -> CameraModel:
    """A top camera over the tape's centre, 0.4 m up, looking straight down (image right: +x)."""
    return CameraModel(pos=np.array([*FRAME.centre, 0.4]), rot=np.eye(3), fovy=90.0,
                       width=320, height=240)


def frame_image(camera: CameraModel, sheet: tuple[float, float, float] | None, off: FrameFit | None = None,
                cover: list[tuple[tuple[float, float], tuple[float, float]]] = (),
                colour=YELLOW) -> np.ndarray:
    """uint8 (H, W, 3): the tape, and a white sheet at (x, y, yaw) on top of it, as a camera `off` the
    calibration shows them (each pixel's nominal table point mapped back through `off`). cover:
    axis-aligned boxes ((x0, y0), (x1, y1)) in the true table frame painted `colour` over everything."""
    rows, cols = np.mgrid[0:camera.height, 0:camera.width]
    seen = camera.pixels_to_table(np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], -1))[:, :2]
    table = seen if off is None else off.to_table(seen, FRAME)
    image = np.full((len(table), 3), BLACK, np.uint8)
    image[outside_ring(table - np.asarray(FRAME.centre), FRAME) == 0] = RED
    if sheet is not None:
        x, y, yaw = sheet
        c, s = math.cos(yaw), math.sin(yaw)
        local = (table - [x, y]) @ np.array([[c, -s], [s, c]])
        image[np.all(np.abs(local) <= 0.5 * np.asarray(CONFIG.paper_size), axis=1)] = WHITE
    for (x0, y0), (x1, y1) in cover:
        image[(table[:, 0] >= x0) & (table[:, 0] <= x1) & (table[:, 1] >= y0) & (table[:, 1] <= y1)] = colour
    return image.reshape(camera.height, camera.width, 3)


def test_red_mask_keeps_the_tape_and_drops_the_arm() -> None:
    tape = [(135, 24, 24), (74, 18, 20), (255, 147, 147)]  # lit, shaded edge, brightest light (rendered)
    others = [(255, 205, 45), (255, 105, 39), (116, 70, 14), (69, 46, 19), (250, 250, 248), (15, 15, 16),
              (85, 85, 90), (40, 10, 10)]  # the arm in light and shade, sheet, table, floor, too dark
    mask = red_mask(np.array([tape + others], np.uint8))[0]
    assert mask.tolist() == [True] * len(tape) + [False] * len(others)


def test_outside_ring_is_the_distance_to_the_tape() -> None:
    ox, oy = 0.5 * FRAME.outer
    ix, iy = 0.5 * np.asarray(FRAME.inner)
    points = np.array([[0.5 * (ix + ox), 0.0], [0.0, 0.5 * (iy + oy)], [0.0, 0.0], [ix - 0.01, 0.0],
                       [ox + 0.03, 0.0], [ox + 0.03, oy + 0.04]])
    np.testing.assert_allclose(outside_ring(points, FRAME), [0.0, 0.0, iy, 0.01, 0.03, 0.05], atol=1e-12)


def test_to_table_undoes_the_similarity() -> None:
    true = np.array([[0.2, 0.1], [0.3, 0.25], [0.05, 0.175]])
    c, s = math.cos(OFF.yaw), math.sin(OFF.yaw)
    seen = OFF.centre + OFF.scale * (true - np.asarray(FRAME.centre)) @ np.array([[c, s], [-s, c]])
    np.testing.assert_allclose(OFF.to_table(seen, FRAME), true, atol=1e-12)


@pytest.mark.parametrize("cover", [
    [],
    [((0.13, 0.0), (0.17, 0.35))],  # the strip at -x, all of it (the sheet pushed across it)
    [((0.2, 0.24), (0.45, 0.3))],  # most of the strip at +y
], ids=["clear", "strip_-x_covered", "strip_+y_mostly_covered"])
def test_fit_finds_the_camera_error(camera, cover) -> None:
    fit = fit_frame(frame_image(camera, None, OFF, cover, colour=WHITE), camera, FRAME)
    assert fit is not None
    np.testing.assert_allclose(fit.centre, OFF.centre, atol=0.0015)
    assert abs(fit.yaw - OFF.yaw) < 0.005 and abs(fit.scale - OFF.scale) < 0.012, (fit.yaw, fit.scale)


def test_no_anchor_without_enough_tape(camera) -> None:
    assert fit_frame(frame_image(camera, None, OFF, [((0.0, 0.0), (0.6, 0.4))]), camera, FRAME) is None
    # only the middle of the strip at +x left in view: nothing fixes y
    rest = [((0.0, 0.0), (0.37, 0.4)), ((0.0, 0.0), (0.6, 0.12)), ((0.0, 0.23), (0.6, 0.4))]
    assert fit_frame(frame_image(camera, None, OFF, rest), camera, FRAME) is None


def test_the_sheet_is_placed_against_the_tape(camera) -> None:
    """The camera's error moves the nominal estimate by ~1 cm; measured against the tape the sheet is
    where it is, at the start pose and across the tape; without a tape in view the estimate is the
    nominal camera's."""
    for sheet in [(0.03, 0.175, 0.1), (0.29, 0.165, -0.05)]:
        image = frame_image(camera, sheet, OFF)
        nominal = estimate_paper(image, camera, CONFIG.paper_size)
        anchored = estimate_paper_in_frame(image, camera, CONFIG.paper_size, FRAME)
        assert np.hypot(*(nominal.centre - sheet[:2])) > 0.007
        np.testing.assert_allclose(anchored.centre, sheet[:2], atol=0.002)
        assert abs(anchored.yaw - sheet[2]) < 0.006
        np.testing.assert_allclose(anchored.corners.mean(axis=0), anchored.centre, atol=1e-6)
    no_tape = frame_image(camera, (0.03, 0.175, 0.1), OFF, [((0.13, 0.0), (0.6, 0.4))], colour=BLACK)
    plain = estimate_paper(no_tape, camera, CONFIG.paper_size)
    np.testing.assert_array_equal(estimate_paper_in_frame(no_tape, camera, CONFIG.paper_size, FRAME).centre,
                                  plain.centre)
    assert estimate_paper_in_frame(np.zeros((240, 320, 3), np.uint8), camera, CONFIG.paper_size, FRAME) is None


def test_the_tape_is_fitted_once_per_episode(camera) -> None:
    """EpisodeAnchor: the first frame whose tape fits anchors the episode; a frame without one tries
    again; reset starts over. The first anchored frame's answer is the per-frame fit's; later frames
    are placed within the same 2 mm of the truth."""
    from mjx_gr00t.perception.frame_anchor import EpisodeAnchor

    anchor = EpisodeAnchor(camera, CONFIG.paper_size, FRAME)
    hidden = frame_image(camera, (0.03, 0.175, 0.1), OFF, [((0.13, 0.0), (0.6, 0.4))], colour=BLACK)
    sheets = [(0.03, 0.175, 0.1), (0.15, 0.17, 0.02), (0.29, 0.165, -0.05)]
    frames = [frame_image(camera, sheet, OFF) for sheet in sheets]
    anchor.reset()
    first = anchor(hidden)  # no tape to fit: the nominal camera's estimate, and no anchor kept
    np.testing.assert_array_equal(first.centre, estimate_paper(hidden, camera, CONFIG.paper_size).centre)
    assert anchor.fit is None and anchor.fits == 1
    every = estimate_paper_in_frame(frames[0], camera, CONFIG.paper_size, FRAME)
    np.testing.assert_array_equal(anchor(frames[0]).centre, every.centre)
    for image, sheet in zip(frames[1:], sheets[1:]):
        np.testing.assert_allclose(anchor(image).centre, sheet[:2], atol=0.002)
    assert anchor.fits == 2  # the hidden frame's try, then the first frame with tape; none after
    anchor.reset()
    anchor(frames[0])
    assert anchor.fits == 3
