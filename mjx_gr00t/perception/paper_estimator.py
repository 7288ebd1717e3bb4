"""The sheet's pose on the table from one top-camera image: numpy and scipy on the image path (JAX only
for the shared corner order); the code a deployment runs on the rig's real 320 x 240 frames.

    camera = CameraModel.from_mujoco(model, "front", width=320, height=240)   # or a calibration
    est = estimate_paper(image, camera)      # image uint8 (H, W, 3) -> PaperEstimate, or None

Steps:
1. Segment the sheet: pixels bright (max channel >= WHITE_MIN_VALUE) and grey (saturation
   (max - min) / max <= WHITE_MAX_SATURATION), so the red tape, the black table and the arm's
   coloured or dark parts drop out. Keep the largest 8-connected blob.
2. Map the blob's pixel centres to the table plane through the camera model. A blob of less than
   MIN_AREA_FRACTION (or more than MAX_AREA_FRACTION) of the sheet's area is no sheet: None. So is
   one with no straight edge (MIN_EDGE_SUPPORT) across one of its axes (step 3).
3. Yaw. A first guess from the blob's minimum-area bounding rectangle (its sides lie along the
   sheet's edges even when the arm bites a piece out of the sheet), refined by a line fit: each of
   the four sides' outline (the outermost point per pixel-wide bin), its straight part kept (bins
   within a pixel of the fitted line; an occluder's outline drops out), one slope shared by all four.
   Second moments (PCA) are not used: a bite of 1 % of the sheet at a corner turns them by ~0.03 rad.
   The long axis is the one that fits the known sheet size (fewest truncated axes; a truncated axis
   should have a hidden end, see step 4). Yaw is canonical: modulo 180 degrees, in [-pi/2, pi/2).
4. Centre. Along each axis, midway between the two fitted edges; where the extent falls short of
   the sheet's size by more than TRUNCATION_TOLERANCE, part of the sheet is hidden (arm, image
   border) and the centre is put half a sheet from the edge really seen. The hidden end is the one
   just outside the image, else the one with less straight edge and less table just beyond it (a
   real paper edge is seen along its whole length, with the dark table beyond; an occluder's
   outline is rarely straight, and the arm is not dark all over).
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from scipy import ndimage, spatial

from mjx_gr00t.envs.paper_estimate import canonical_yaw, corners
from mjx_gr00t.perception.camera_model import CameraModel

WHITE_MIN_VALUE: int = 150
"""Least brightest channel (0..255) of a sheet pixel: the lit sheet reads ~255, the table ~15, the
floor beyond the table's edge ~85."""
WHITE_MAX_SATURATION: float = 0.25
"""Most saturation, (max - min) / max, of a sheet pixel: the tape reads ~0.84, the arm > 0.6."""
MIN_AREA_FRACTION: float = 0.2
"""Smallest blob, as a fraction of the sheet's area, taken for the sheet; a smaller one: dropout."""
MAX_AREA_FRACTION: float = 1.5
"""Largest blob, as a fraction of the sheet's area (an over-exposed frame is not a sheet)."""
TRUNCATION_TOLERANCE: float = 0.012
"""m: an extent shorter than the sheet by more than this is truncated (covered or cut by the image
border). It allows ~1 pixel of edge quantisation and a few % of camera scale error."""
MIN_EDGE_SUPPORT: float = 0.5
"""Least fraction of a side's length that must be straight paper edge, on at least one side across
each axis; a blob with no such edge across an axis cannot place the sheet along it: dropout."""
OUTSIDE_OFFSET_PIXELS: float = 2.0
"""How far beyond a side (in pixels) the hidden-end test looks at what lies outside it."""
TABLE_MAX_VALUE: int = 80
"""Most brightest channel (0..255) of a pixel that looks like the (near-black) table."""
_SIDE_SAMPLES = 16


@dataclasses.dataclass(frozen=True, eq=False)
class PaperEstimate:
    """One estimate of the sheet's pose in the table frame."""

    centre: np.ndarray
    """(2,) x, y of the sheet's centre, m."""
    yaw: float
    """Yaw of the sheet's long edge from x, canonical (modulo pi, in [-pi/2, pi/2)), rad."""
    corners: np.ndarray
    """(4, 2) corners, in `envs.paper_estimate.corners`' order."""
    pixel_count: int
    """Pixels in the sheet's blob."""
    area_ratio: float
    """Seen area / the sheet's area (about 1 when all of it is seen); a confidence."""
    truncated: tuple[bool, bool]
    """Whether the (long, short) extent was short of the sheet's size (part hidden)."""


def white_mask(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> bool (H, W): bright, unsaturated pixels."""
    top = image.max(axis=-1).astype(np.int32)
    spread = top - image.min(axis=-1)
    return (top >= WHITE_MIN_VALUE) & (spread <= WHITE_MAX_SATURATION * top)


def largest_blob(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """bool (H, W) -> (rows (N,), cols (N,)) of the largest 8-connected blob, or None if empty."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if count == 0:
        return None
    biggest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    return np.nonzero(labels == biggest)


def table_points(camera: CameraModel, rows: np.ndarray, cols: np.ndarray,
                 z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N,) rows and cols -> their centres on the plane at height z (N, 2) and each
    pixel's footprint there (N,), m^2."""
    u, v = cols + 0.5, rows + 0.5
    centre = camera.pixels_to_table(np.stack([u, v], -1), z)[:, :2]
    du = camera.pixels_to_table(np.stack([u + 1.0, v], -1), z)[:, :2] - centre
    dv = camera.pixels_to_table(np.stack([u, v + 1.0], -1), z)[:, :2] - centre
    return centre, np.abs(du[:, 0] * dv[:, 1] - du[:, 1] * dv[:, 0])


def _axes(yaw: float) -> np.ndarray:
    """(2, 2) rows: the long axis and the short axis (as `envs.paper_estimate.corners` has them)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s], [-s, c]])


def min_area_yaw(points: np.ndarray) -> float:
    """points (N, 2) -> the angle (in [0, pi/2)) of an axis of their minimum-area bounding rectangle,
    whose sides lie along an edge of their convex hull (0 for points on one line)."""
    try:
        hull = points[spatial.ConvexHull(points).vertices]
    except spatial.QhullError:
        return 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), 0.5 * np.pi))
    c, s = np.cos(angles), np.sin(angles)
    along = hull @ np.stack([c, s])  # (M, K)
    across = hull @ np.stack([-s, c])
    area = np.ptp(along, axis=0) * np.ptp(across, axis=0)
    return float(angles[np.argmin(area)])


def long_axis_first(extent: np.ndarray, support: np.ndarray, size: np.ndarray) -> bool:
    """extent (2,) of the blob along an axis pair, support (2, 2) of its sides (`Edges.support`) ->
    whether the first axis is the sheet's long one. The pairing that overshoots the sheet's size
    least (beyond the tolerance), then truncates the fewest axes, then has a weak side (a hidden end)
    on each truncated axis, then truncates the least."""
    def cost(ext: np.ndarray, sup: np.ndarray) -> tuple[float, int, float, float]:
        overshoot = float(np.maximum(ext - size - TRUNCATION_TOLERANCE, 0).sum())
        short = size - ext
        truncated = short > TRUNCATION_TOLERANCE
        both_ends_seen = float(sup.min(axis=1)[truncated].sum())
        return overshoot, int(truncated.sum()), both_ends_seen, float(np.maximum(short, 0).sum())

    return cost(extent, support) <= cost(extent[::-1], support[::-1])


@dataclasses.dataclass(frozen=True)
class Edges:
    """The blob's four sides along an axis pair: where each lies and how straight it is."""

    yaw: float
    """Angle of the first axis, rad; the axes are `_axes(yaw)`."""
    lo: np.ndarray
    """(2,) position of the side at the low end of each axis (its edge, not its pixels' centres), m."""
    hi: np.ndarray
    """(2,) the same at the high end."""
    support: np.ndarray
    """(2, 2) [axis, (low end, high end)]: fraction of the side's length along which the blob
    reaches a straight edge (about 1 for a real paper edge, little for an occluder's outline)."""


def side_profile(proj: np.ndarray, at_border: np.ndarray, k: int, sign: int,
                 pitch: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """proj (N, 2) blob points along the axes, at_border (N,) those on the image's border -> the
    outline of the side at the `sign` end of axis k: bin centres t (B,) along the other axis (one
    bin per pixel pitch), the outermost point's outward coordinate sign * proj[:, k] in each bin
    (B,), and whether that point lies on the image border (B,) (the image's edge, not the sheet's)."""
    t, outward = proj[:, 1 - k], sign * proj[:, k]
    bins = ((t - t.min()) / pitch).astype(int)
    outline, border = np.full(bins.max() + 1, -np.inf), np.full(bins.max() + 1, -np.inf)
    np.maximum.at(outline, bins, outward)
    np.maximum.at(border, bins[at_border], outward[at_border])
    filled = np.isfinite(outline)
    return t.min() + (np.flatnonzero(filled) + 0.5) * pitch, outline[filled], (border >= outline)[filled]


def straight_part(t: np.ndarray, outward: np.ndarray, cut: np.ndarray, pitch: float) -> np.ndarray:
    """A side's outline t, outward, cut by the image border (B,) each -> bool (B,): the bins on its
    straight outer edge (those near the outermost, then those within a pixel of the line fitted to
    them), none on the image border."""
    inliers = ~cut & (outward >= outward[~cut].max(initial=-np.inf) - 2 * pitch)
    for _ in range(2):
        if inliers.sum() < 3:
            break
        slope, offset = np.polyfit(t[inliers], outward[inliers], 1)
        inliers = ~cut & (np.abs(outward - (slope * t + offset)) <= pitch)
    return inliers


def fit_edges(points: np.ndarray, at_border: np.ndarray, yaw: float, pitch: float, rounds: int = 2) -> Edges:
    """points (N, 2) of the blob (at_border (N,): on the image's border), a first yaw (rad) -> its
    sides, after `rounds` turns of the axes by the slope that a line fit to the straight parts of all
    four sides (one slope shared) finds."""
    for turn in range(rounds + 1):
        proj = points @ _axes(yaw).T
        lo, hi, support = np.zeros(2), np.zeros(2), np.zeros((2, 2))
        sxy = sxx = 0.0
        for k in (0, 1):
            for j, sign in enumerate((-1, 1)):
                t, outward, cut = side_profile(proj, at_border, k, sign, pitch)
                inliers = straight_part(t, outward, cut, pitch)
                # the edge: an outermost pixel centre lies ~half a pixel inside it
                edge = (outward[inliers].mean() if inliers.any() else outward.max()) + 0.5 * pitch
                (hi if sign > 0 else lo)[k] = sign * edge
                support[k, j] = inliers.sum() / (np.ptp(t) / pitch + 1)
                if inliers.sum() < 3:
                    continue
                tc, oc = t[inliers] - t[inliers].mean(), outward[inliers] - outward[inliers].mean()
                # a turn d of the true axes tilts the sides across axis 1 by +d, those across axis 0 by -d
                sxy += sign * (1 if k == 1 else -1) * float(tc @ oc)
                sxx += float(tc @ tc)  # weights each side by its straight length cubed
        if turn == rounds or sxx == 0:
            break
        yaw += float(np.arctan(sxy / sxx))
    return Edges(yaw=yaw, lo=lo, hi=hi, support=support)


def seen_end(image: np.ndarray, camera: CameraModel, edges: Edges, k: int, pitch: float, z: float) -> int:
    """Which end of axis k (+1: high, -1: low) shows the sheet's real edge, the other being hidden.

    The hidden end is the one just outside the image; else the one scoring less, where a side scores
    the fraction of its length that is straight edge plus the fraction of the strip just outside it
    that looks like the table (dark: max channel < TABLE_MAX_VALUE). An occluder's outline is rarely
    straight along the whole side, and it is rarely as dark as the table (the arm is yellow)."""
    axes, other = _axes(edges.yaw), 1 - k
    score = {}
    for j, sign in enumerate((-1, 1)):
        outside = np.zeros((_SIDE_SAMPLES, 2))
        outside[:, k] = (edges.hi if sign > 0 else edges.lo)[k] + sign * OUTSIDE_OFFSET_PIXELS * pitch
        outside[:, other] = np.linspace(edges.lo[other], edges.hi[other], _SIDE_SAMPLES)
        pixels = camera.project(np.concatenate([outside @ axes, np.full((_SIDE_SAMPLES, 1), z)], axis=1))
        in_view = camera.in_image(pixels)
        cols, rows = pixels[in_view].astype(int).T
        dark = (image[rows, cols].max(axis=-1) < TABLE_MAX_VALUE).mean() if in_view.any() else 0.0
        score[sign] = (in_view.mean() >= 0.5, edges.support[k, j] + dark)
    return 1 if score[1] >= score[-1] else -1


def estimate_paper(image: np.ndarray, camera: CameraModel, paper_size: tuple[float, float] = (0.210, 0.148),
                   z: float = 0.0) -> PaperEstimate | None:
    """image uint8 (H, W, 3) from `camera` -> the sheet's pose, or None when no sheet is found.

    paper_size: (long, short) edges, m. z: height of the plane the sheet's pixels are mapped to, m
    (the table top; a sheet's thickness is negligible)."""
    image = np.asarray(image)
    if image.shape != (camera.height, camera.width, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 ({camera.height}, {camera.width}, 3) as the camera model says, "
                         f"got {image.dtype} {image.shape}")
    size = np.asarray(paper_size, dtype=np.float64)
    blob = largest_blob(white_mask(image))
    if blob is None or len(blob[0]) < 8:
        return None
    rows, cols = blob
    points, footprint = table_points(camera, rows, cols, z)
    at_border = (rows == 0) | (rows == camera.height - 1) | (cols == 0) | (cols == camera.width - 1)
    finite = np.all(np.isfinite(points), axis=1)
    points, footprint, at_border = points[finite], footprint[finite], at_border[finite]
    area_ratio = float(footprint.sum() / np.prod(size))
    if not MIN_AREA_FRACTION <= area_ratio <= MAX_AREA_FRACTION:
        return None
    pitch = float(np.sqrt(np.median(footprint)))
    edges = fit_edges(points, at_border, min_area_yaw(points), pitch)
    yaw = edges.yaw + (0.0 if long_axis_first(edges.hi - edges.lo, edges.support, size) else 0.5 * np.pi)
    yaw = float(canonical_yaw(yaw))
    edges = fit_edges(points, at_border, yaw, pitch, rounds=0)  # the same sides, named along the final axes
    if np.any(edges.support.max(axis=1) < MIN_EDGE_SUPPORT):
        return None
    truncated = (size - (edges.hi - edges.lo)) > TRUNCATION_TOLERANCE
    local = 0.5 * (edges.lo + edges.hi)
    for k in np.flatnonzero(truncated):
        sign = seen_end(image, camera, edges, int(k), pitch, z)
        local[k] = edges.hi[k] - 0.5 * size[k] if sign > 0 else edges.lo[k] + 0.5 * size[k]
    centre = local @ _axes(yaw)
    return PaperEstimate(
        centre=centre, yaw=yaw,
        corners=np.asarray(corners(jnp.asarray(centre), yaw, jnp.asarray(0.5 * size)), dtype=np.float64),
        pixel_count=len(blob[0]), area_ratio=area_ratio, truncated=(bool(truncated[0]), bool(truncated[1])))
