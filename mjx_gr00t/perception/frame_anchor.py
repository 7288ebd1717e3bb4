"""The sheet's pose measured against the red tape frame the top camera also sees.

A camera that sits a few mm or a degree off its calibration maps every pixel a few mm off on the
table (5 mm and 1 degree at 0.4 m: about 12 mm), the same for the sheet and for the tape around the
target. The task is judged against the tape, so the estimator finds the tape too and maps the sheet
through the similarity (shift, turn, scale) that puts the seen tape where the tape is. What the
camera error does to both cancels; what is left is the estimator's own error.

    frame = TapeFrame.from_config(task.config)
    est = estimate_paper_in_frame(image, camera, paper_size, frame)   # PaperEstimate or None

Steps:
1. Red pixels (bright enough, saturated, hue within RED_MAX_HUE_DEGREES of red: the tape reads
   (135, 24, 24) to (255, 147, 147), the yellow-orange arm's hue is 18 degrees and more), mapped to the table through the nominal camera;
   those farther than SEARCH_MARGIN from the tape's nominal ring are dropped.
2. The similarity that puts the most red points inside the tape's ring (outer rectangle less the
   inner hole): a robust least-squares fit of each point's distance outside the ring, over shift,
   turn and scale. Both edges of every strip take part, so a strip the sheet or the arm covers drops
   out of the fit without pulling it: the strips left in view hold it.
3. No anchor (the estimate stays as the nominal camera gives it) when fewer than MIN_STRIP_PIXELS
   red points lie on the strips across x or on those across y, or the fit leaves more than
   MAX_OUTSIDE_FRACTION of the points outside the ring.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from scipy import optimize

from mjx_gr00t.envs.paper_estimate import canonical_yaw, corners
from mjx_gr00t.perception.camera_model import CameraModel
from mjx_gr00t.perception.paper_estimator import TABLE_MAX_VALUE, PaperEstimate, estimate_paper, table_points

RED_MIN_VALUE: int = 60
"""Least red channel (0..255) of a tape pixel (the tape's shaded edge reads ~74)."""
RED_MIN_SATURATION: float = 0.3
"""Least saturation, (max - min) / max, of a tape pixel (the tape reads 0.42 where the light is
brightest, 0.82 elsewhere; the sheet, table and floor < 0.1)."""
RED_MAX_HUE_DEGREES: float = 10.0
"""Most hue away from pure red of a tape pixel: the tape's green and blue are equal (hue 0), the
yellow-orange arm's are not (hue 18 degrees and more, even in shade)."""
SEARCH_MARGIN: float = 0.04
"""m: red points farther than this from the tape's nominal ring are not tape; the camera's error at
the table is well under it. Also the bound on the fitted shift."""
MAX_TURN: float = 0.1
"""rad: bound on the fitted turn (the camera's own is within a few hundredths)."""
SCALE_BOUNDS: tuple[float, float] = (0.85, 1.15)
"""Bounds on the fitted scale, seen / true (fovy is known within a few %)."""
MIN_STRIP_PIXELS: int = 30
"""Least red points on the strips across x (and on those across y) for an anchor."""
MAX_OUTSIDE_FRACTION: float = 0.2
"""Most of the red points the fit may leave more than a pixel outside the ring."""
FIT_POINTS: int = 400
"""Most tape pixels (and, apart, tape edge points) a fit takes, evenly strided: more add time, not
accuracy (the fit's error is already well under a pixel)."""
_HUBER_SCALE: float = 0.002
"""m: distances outside the ring beyond this count linearly, not squared (soft L1)."""


@dataclasses.dataclass(frozen=True)
class TapeFrame:
    """Where the tape frame lies on the table: centre (2,) m, inner hole (2,) m, tape width m; its
    sides along the table's x and y."""

    centre: tuple[float, float]
    inner: tuple[float, float]
    width: float

    @classmethod
    def from_config(cls, config) -> "TapeFrame":
        """From a `PaperRigConfig` (frame_centre, frame_inner, tape_width)."""
        return cls(centre=tuple(config.frame_centre), inner=tuple(config.frame_inner), width=float(config.tape_width))

    @property
    def outer(self) -> np.ndarray:
        """(2,) the outer edge's full size, m."""
        return np.asarray(self.inner, np.float64) + 2.0 * self.width


@dataclasses.dataclass(frozen=True, eq=False)
class FrameFit:
    """The tape as the nominal camera sees it: centre (2,) m, turn (rad) and scale (seen / true)."""

    centre: np.ndarray
    yaw: float
    scale: float

    def to_table(self, points: np.ndarray, frame: TapeFrame) -> np.ndarray:
        """points (N, 2) as the nominal camera maps them -> (N, 2) where they lie relative to the
        real tape (the seen tape moved, turned and scaled onto the true one)."""
        return np.asarray(frame.centre) + _to_local(np.asarray(points), self.centre, self.yaw, self.scale)


def red_mask(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> bool (H, W): the tape's red pixels (red the largest channel, saturated,
    hue within RED_MAX_HUE_DEGREES of red)."""
    r, g, b = (image[..., i].astype(np.float32) for i in range(3))
    low = np.minimum(g, b)
    spread = r - low
    hue = 60.0 * np.abs(g - b) / np.maximum(spread, 1.0)
    return (r >= RED_MIN_VALUE) & (r >= np.maximum(g, b)) & (spread >= RED_MIN_SATURATION * r) \
        & (hue <= RED_MAX_HUE_DEGREES)


def outside_ring(points: np.ndarray, frame: TapeFrame) -> np.ndarray:
    """points (N, 2) in the tape's own frame (centre at 0, sides along x and y) -> (N,) distance
    outside the ring (0 on the tape), m."""
    q = np.abs(points)
    outer_half, inner_half = 0.5 * frame.outer, 0.5 * np.asarray(frame.inner, np.float64)
    beyond = np.linalg.norm(np.maximum(q - outer_half, 0.0), axis=-1)
    into_hole = np.maximum(np.min(inner_half - q, axis=-1), 0.0)
    return beyond + into_hole


def _to_local(points: np.ndarray, centre: np.ndarray, yaw: float, scale: float) -> np.ndarray:
    """Seen points (N, 2) -> the tape's own frame, for a tape seen at centre, turned yaw, scaled."""
    c, s = np.cos(yaw), np.sin(yaw)
    return ((points - centre) @ np.array([[c, -s], [s, c]])) / scale


def to_ring_edge(points: np.ndarray, frame: TapeFrame) -> np.ndarray:
    """points (N, 2) in the tape's own frame -> (N,) distance to the nearest of the tape's edges (the
    outer rectangle's or the inner hole's), m."""
    q = np.abs(points)

    def to_boundary(half: np.ndarray) -> np.ndarray:
        gap = q - half
        return np.where(np.all(gap <= 0, axis=-1), -gap.max(axis=-1),
                        np.linalg.norm(np.maximum(gap, 0.0), axis=-1))

    return np.minimum(to_boundary(0.5 * frame.outer), to_boundary(0.5 * np.asarray(frame.inner, np.float64)))


def tape_edge_pixels(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> (N, 2) sub-pixel (u, v) points where a tape pixel meets a table pixel (the
    boundary between their centres); where the tape meets the sheet or the arm, no point."""
    red = red_mask(image)
    dark = image.max(axis=-1) < TABLE_MAX_VALUE
    points = []
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        neighbour = np.zeros_like(dark)
        h, w = dark.shape
        neighbour[max(0, -dr):h - max(0, dr), max(0, -dc):w - max(0, dc)] = \
            dark[max(0, dr):h - max(0, -dr), max(0, dc):w - max(0, -dc)]
        rows, cols = np.nonzero(red & neighbour)
        points.append(np.stack([cols + 0.5 + 0.5 * dc, rows + 0.5 + 0.5 * dr], axis=-1))
    return np.concatenate(points)


def _fit(residual, x0: np.ndarray) -> np.ndarray:
    low = [-SEARCH_MARGIN, -SEARCH_MARGIN, -MAX_TURN, SCALE_BOUNDS[0]]
    high = [SEARCH_MARGIN, SEARCH_MARGIN, MAX_TURN, SCALE_BOUNDS[1]]
    return optimize.least_squares(residual, x0=x0, bounds=(low, high), loss="soft_l1", f_scale=_HUBER_SCALE,
                                  x_scale=[0.01, 0.01, 0.01, 0.01]).x


def fit_frame(image: np.ndarray, camera: CameraModel, frame: TapeFrame, z: float = 0.0) -> FrameFit | None:
    """image uint8 (H, W, 3) -> the tape as the nominal camera sees it, or None (module docstring)."""
    rows, cols = np.nonzero(red_mask(image))
    if len(rows) < 2 * MIN_STRIP_PIXELS:
        return None
    points, footprint = table_points(camera, rows, cols, z)
    true_centre = np.asarray(frame.centre, np.float64)
    near = np.all(np.isfinite(points), axis=1) & (outside_ring(points - true_centre, frame) <= SEARCH_MARGIN)
    points, pitch = points[near], float(np.sqrt(np.median(footprint)))
    edges = camera.pixels_to_table(tape_edge_pixels(image), z)[:, :2]
    edges = edges[np.all(np.isfinite(edges), axis=1)]
    edges = edges[to_ring_edge(edges - true_centre, frame) <= SEARCH_MARGIN]
    if len(points) < 2 * MIN_STRIP_PIXELS or len(edges) < 2 * MIN_STRIP_PIXELS:
        return None
    # First the pixels inside the ring (no wrong edge to snap to), then their edges (two-sided).
    few, few_edges = points[::-(-len(points) // FIT_POINTS)], edges[::-(-len(edges) // FIT_POINTS)]
    rough = _fit(lambda p: outside_ring(_to_local(few, true_centre + p[:2], p[2], p[3]), frame) * p[3],
                 np.array([0.0, 0.0, 0.0, 1.0]))
    fine = _fit(lambda p: to_ring_edge(_to_local(few_edges, true_centre + p[:2], p[2], p[3]), frame) * p[3], rough)
    centre, yaw, scale = true_centre + fine[:2], float(fine[2]), float(fine[3])
    local = _to_local(points, centre, yaw, scale)
    inner_half = 0.5 * np.asarray(frame.inner, np.float64)
    across_x = np.abs(local[:, 0]) >= inner_half[0]  # the two strips at +-x, which fix x
    across_y = np.abs(local[:, 1]) >= inner_half[1]
    outside = np.mean(outside_ring(local, frame) > pitch)
    off_edge = np.mean(to_ring_edge(_to_local(edges, centre, yaw, scale), frame) > pitch)
    if min(across_x.sum(), across_y.sum()) < MIN_STRIP_PIXELS or max(outside, off_edge) > MAX_OUTSIDE_FRACTION:
        return None
    return FrameFit(centre=centre, yaw=yaw, scale=scale)


def anchored(est: PaperEstimate, fit: FrameFit | None, frame: TapeFrame,
             paper_size: tuple[float, float]) -> PaperEstimate:
    """The nominal camera's estimate moved onto the real tape frame that `fit` found (as is without one)."""
    if fit is None:
        return est
    centre = fit.to_table(est.centre[None], frame)[0]
    yaw = float(canonical_yaw(est.yaw - fit.yaw))
    half = 0.5 * np.asarray(paper_size)
    return dataclasses.replace(est, centre=centre, yaw=yaw,
                               corners=np.asarray(corners(jnp.asarray(centre), yaw, jnp.asarray(half)), np.float64))


def estimate_paper_in_frame(image: np.ndarray, camera: CameraModel, paper_size: tuple[float, float],
                            frame: TapeFrame, z: float = 0.0) -> PaperEstimate | None:
    """image uint8 (H, W, 3) -> the sheet's pose relative to the real tape frame (`estimate_paper`
    moved by the tape's `fit_frame`), the nominal camera's estimate where the tape cannot be fitted,
    or None when no sheet is found."""
    est = estimate_paper(image, camera, paper_size, z)
    return None if est is None else anchored(est, fit_frame(image, camera, frame, z), frame, paper_size)


class EpisodeAnchor:
    """`estimate_paper_in_frame` that fits the tape once per episode: the camera and the tape hold
    still while the arm works, so the first frame whose tape fits anchors every later one (frames
    before it get the nominal camera's estimate, and try again). `reset()` at each episode start.

        anchor = EpisodeAnchor(camera, paper_size, frame); anchor.reset(); est = anchor(image)
    """

    def __init__(self, camera: CameraModel, paper_size: tuple[float, float], frame: TapeFrame,
                 z: float = 0.0) -> None:
        self.camera, self.paper_size, self.frame, self.z = camera, paper_size, frame, z
        self.fit: FrameFit | None = None
        self.fits = 0
        """Tape fits run (for tests and timing)."""

    def reset(self) -> None:
        self.fit = None

    def __call__(self, image: np.ndarray) -> PaperEstimate | None:
        est = estimate_paper(image, self.camera, self.paper_size, self.z)
        if est is None:
            return None
        if self.fit is None:
            self.fits += 1
            self.fit = fit_frame(image, self.camera, self.frame, self.z)
        return anchored(est, self.fit, self.frame, self.paper_size)
