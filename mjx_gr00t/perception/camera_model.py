"""A pinhole camera as MuJoCo draws one: pixels <-> world points, numpy only.

MuJoCo's camera frame: the camera looks along its -z, x points right in the image and y up. Its
`fovy` is the vertical field of view; the horizontal one follows from the image's aspect ratio
(square pixels, principal point at the image centre). Pixel coordinates here are (u, v): u to the
right, v down, the centre of pixel (row i, column j) at (j + 0.5, i + 0.5).

    camera = CameraModel.from_mujoco(model, "front", width=320, height=240)
    uv = camera.project(points)                  # (N, 3) world -> (N, 2) pixels
    xyz = camera.pixels_to_table(uv, z=0.0)      # (N, 2) pixels -> (N, 3) on the plane z = 0
"""

import dataclasses
import math

import mujoco
import numpy as np

_ORTHONORMAL_TOL = 1e-6


@dataclasses.dataclass(frozen=True, eq=False)
class CameraModel:
    """A pinhole camera: position (3,) and rotation (3, 3) camera-to-world (columns: the camera's
    x, y, z axes in the world), vertical field of view `fovy` in degrees, image size in pixels."""

    pos: np.ndarray
    rot: np.ndarray
    fovy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        pos = np.array(self.pos, dtype=np.float64)
        rot = np.array(self.rot, dtype=np.float64)
        if pos.shape != (3,) or not np.all(np.isfinite(pos)):
            raise ValueError(f"camera pos must be 3 finite numbers, got {self.pos!r}")
        if rot.shape != (3, 3) or not np.allclose(rot.T @ rot, np.eye(3), atol=_ORTHONORMAL_TOL) \
                or np.linalg.det(rot) < 0:
            raise ValueError(f"camera rot must be a (3, 3) rotation matrix (orthonormal, det +1), got {self.rot!r}")
        if not 0.0 < self.fovy < 180.0:
            raise ValueError(f"fovy must be in (0, 180) degrees, got {self.fovy}")
        if int(self.width) < 1 or int(self.height) < 1:
            raise ValueError(f"image size must be >= 1 pixel, got width={self.width}, height={self.height}")
        pos.flags.writeable = False
        rot.flags.writeable = False
        object.__setattr__(self, "pos", pos)
        object.__setattr__(self, "rot", rot)
        object.__setattr__(self, "fovy", float(self.fovy))
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    @classmethod
    def from_mujoco(cls, model: mujoco.MjModel, camera_name: str, width: int, height: int) -> "CameraModel":
        """The named camera of a compiled model, posed at the model's qpos0 (mj_forward), for an
        image of width x height pixels. Raises ValueError for an unknown camera or one described
        by sensor intrinsics instead of fovy."""
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera_name)
        if cam_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"model has no camera {camera_name!r}; its cameras are {names}")
        if np.any(model.cam_sensorsize[cam_id] > 0):
            raise ValueError(f"camera {camera_name!r} is set by sensorsize/focal intrinsics; only fovy cameras "
                             "are supported")
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        return cls(pos=data.cam_xpos[cam_id].copy(), rot=data.cam_xmat[cam_id].reshape(3, 3).copy(),
                   fovy=float(model.cam_fovy[cam_id]), width=width, height=height)

    @property
    def focal(self) -> float:
        """Focal length in pixels (the same along u and v)."""
        return 0.5 * self.height / math.tan(math.radians(0.5 * self.fovy))

    def project(self, points: np.ndarray) -> np.ndarray:
        """points (N, 3) world -> pixels (N, 2) (u right, v down); NaN for points not in front."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        local = (points - self.pos) @ self.rot  # (N, 3) in the camera frame
        depth = -local[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = 0.5 * self.width + self.focal * local[:, 0] / depth
            v = 0.5 * self.height - self.focal * local[:, 1] / depth
        pixels = np.stack([u, v], axis=-1)
        pixels[depth <= 0] = np.nan
        return pixels

    def rays(self, pixels: np.ndarray) -> np.ndarray:
        """pixels (N, 2) -> world directions (N, 3) of their rays (not normalised; camera z = -1)."""
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        local = np.stack([(pixels[:, 0] - 0.5 * self.width) / self.focal,
                          -(pixels[:, 1] - 0.5 * self.height) / self.focal,
                          -np.ones(len(pixels))], axis=-1)
        return local @ self.rot.T

    def pixels_to_table(self, pixels: np.ndarray, z: float = 0.0) -> np.ndarray:
        """pixels (N, 2) -> (N, 3) where their rays meet the plane at height z; NaN where a ray
        runs parallel to the plane or meets it behind the camera."""
        rays = self.rays(pixels)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (z - self.pos[2]) / rays[:, 2]
        points = self.pos + t[:, None] * rays
        points[~(t > 0) | ~np.isfinite(t)] = np.nan
        return points

    def in_image(self, pixels: np.ndarray) -> np.ndarray:
        """pixels (N, 2) -> bool (N,): inside the image (NaN is outside)."""
        pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            u, v = pixels[:, 0], pixels[:, 1]
            return (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
