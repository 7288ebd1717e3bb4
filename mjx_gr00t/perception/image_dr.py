"""Image-side domain randomisation: each episode's camera pose, field of view and lighting.

Only image consumers see it (the top-camera estimator in the loop, GR00T's cameras); physics and
the estimator's own camera model stay nominal, as on the rig, where the calibration is what the
code knows and the camera is wherever it really is.

One draw is a float32 vector (DRAW_SIZE,) that lives in the env state:

    [0:3] camera position offset, m, in the camera's parent frame
    [3:6] camera turn about its own x, y, z axes, rad (applied in that order)
    [6]   fovy offset, degrees
    [7]   scale of every light's diffuse colour, the headlight's too

    draw = draw_image_dr(key, pos_range, angle_range, fovy_range, light_range)   # JAX, (8,)
    with ImageJitter(model) as jitter:           # host: a private copy of `model`
        jitter.apply(draw, cameras)              # sets that copy's cameras and lights
"""

import copy

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

DRAW_SIZE: int = 8
NOMINAL: np.ndarray = np.array([0, 0, 0, 0, 0, 0, 0, 1], np.float32)
"""The draw that changes nothing."""


def draw_image_dr(key: jax.Array, pos: jax.Array, angle: jax.Array, fovy: jax.Array,
                  light: jax.Array) -> jax.Array:
    """One episode's draw (DRAW_SIZE,) float32; each range is (2,) [low, high]: position offset (m,
    per axis), turn (rad, per axis), fovy offset (degrees), light scale."""
    k = jax.random.split(key, 4)
    u = lambda key, r, n: jax.random.uniform(key, (n,), minval=r[0], maxval=r[1])  # noqa: E731
    return jnp.concatenate([u(k[0], pos, 3), u(k[1], angle, 3), u(k[2], fovy, 1),
                            u(k[3], light, 1)]).astype(jnp.float32)


def check_draws(draws: np.ndarray, batch: int) -> np.ndarray:
    """draws (batch, DRAW_SIZE) as float64; ValueError for another shape or a light scale <= 0."""
    draws = np.asarray(draws, np.float64)
    if draws.shape != (batch, DRAW_SIZE):
        raise ValueError(f"image DR draws must be ({batch}, {DRAW_SIZE}), got shape {draws.shape}")
    if np.any(draws[:, 7] <= 0):
        raise ValueError(f"image DR light scales must be > 0, got {draws[:, 7].min()}")
    return draws


class ImageJitter:
    """A private copy of a scene model whose cameras and lights take one draw at a time."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = copy.deepcopy(model)
        self._cam_pos = model.cam_pos.copy()
        self._cam_quat = model.cam_quat.copy()
        self._cam_fovy = model.cam_fovy.copy()
        self._light = model.light_diffuse.copy()
        self._headlight = np.asarray(model.vis.headlight.diffuse).copy()

    def apply(self, draw: np.ndarray, cam_ids: list[int] | tuple[int, ...]) -> None:
        """Sets `cam_ids`' pose and fovy and every light from the nominal model and `draw` (8,)."""
        m = self.model
        m.cam_pos[:], m.cam_quat[:], m.cam_fovy[:] = self._cam_pos, self._cam_quat, self._cam_fovy
        turn = np.zeros(4)
        mujoco.mju_euler2Quat(turn, np.asarray(draw[3:6], np.float64), "xyz")  # about the camera's own axes
        for cam in cam_ids:
            quat = np.zeros(4)
            mujoco.mju_mulQuat(quat, self._cam_quat[cam], turn)
            m.cam_pos[cam] = self._cam_pos[cam] + draw[0:3]
            m.cam_quat[cam] = quat
            m.cam_fovy[cam] = self._cam_fovy[cam] + draw[6]
        m.light_diffuse[:] = self._light * draw[7]
        m.vis.headlight.diffuse[:] = self._headlight * draw[7]

    def reset(self) -> None:
        """Back to the nominal cameras and lights."""
        self.apply(NOMINAL, ())

    def __enter__(self) -> "ImageJitter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()
