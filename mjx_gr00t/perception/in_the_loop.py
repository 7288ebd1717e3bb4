"""The top camera and the paper-pose estimator in the simulation loop (host code).

`CameraPerception(model)` renders the scene's `front` camera at the real rig's 320 x 240 for a batch
of envs and runs `estimate_paper_in_frame` (the sheet measured against the red tape, which the
frame shows too) on each frame, the same code a deployment runs on real frames:

    perception = CameraPerception(task.mj_model, paper_size, TapeFrame.from_config(config))
    seen = perception(qpos, image_dr)   # qpos (B, nq), image_dr (B, 8) -> (B, 4) float32:
                                        # x, y, yaw (canonical), found (0/1)

`image_dr` holds each env's camera pose, fovy and light draw (`perception.image_dr`): the frame is
rendered with the jittered camera, while the estimator maps pixels through the nominal camera
model, as a deployment does through its calibration, and then onto the tape it sees.

`PaperRigTask` calls it through `jax.pure_callback` when its config says `perception="camera"`.
"""

from typing import Callable

import numpy as np

from mjx_gr00t.perception.camera_model import CameraModel
from mjx_gr00t.perception.frame_anchor import TapeFrame, estimate_paper_in_frame
from mjx_gr00t.render import BatchRenderer, RenderBackendError

WIDTH, HEIGHT = 320, 240
"""The rig's camera frames (LeRobot `observation.images.main`: 240 x 320 x 3)."""

OSMESA_HINT = ("--perception camera renders the top camera and needs an OpenGL backend; on a CPU-only Linux "
               "machine install OSMesa (`sudo apt-get install -y libosmesa6`, which `bash setup.sh` does as root) "
               "and set MUJOCO_GL=osmesa")


class CameraPerception:
    """Renders `camera` and estimates the sheet's pose, for a batch of envs. Not thread-safe."""

    def __init__(self, model, paper_size: tuple[float, float], frame: TapeFrame, camera: str = "front") -> None:
        """model: the scene's MjModel; frame: where the tape lies. Raises RenderBackendError (with how to install OSMesa) when no
        OpenGL backend starts here."""
        try:
            self.renderer = BatchRenderer(model, cameras=(camera,), height=HEIGHT, width=WIDTH)
        except RenderBackendError as e:
            raise RenderBackendError(f"{OSMESA_HINT} ({e})") from e
        self.camera_name = camera
        self.camera = CameraModel.from_mujoco(model, camera, WIDTH, HEIGHT)
        self.paper_size = paper_size
        self.frame = frame
        self.frames = 0
        self.on_frames: Callable[[int], None] | None = None
        """Called with the number of frames after each batch (e.g. a progress bar's update)."""

    def __call__(self, qpos: np.ndarray, image_dr: np.ndarray | None = None) -> np.ndarray:
        """qpos (..., nq), image_dr None or (..., 8) -> (..., 4) float32: x, y (m), canonical yaw
        (rad), found (1) or dropped (0)."""
        qpos = np.asarray(qpos)
        lead = qpos.shape[:-1]
        flat = qpos.reshape(-1, qpos.shape[-1])
        draws = None if image_dr is None else np.asarray(image_dr).reshape(len(flat), -1)
        images = self.renderer.render(flat, draws)[self.camera_name]
        out = np.zeros((len(flat), 4), np.float32)
        for i, image in enumerate(images):
            estimate = estimate_paper_in_frame(image, self.camera, self.paper_size, self.frame)
            if estimate is not None:
                out[i] = (*estimate.centre, estimate.yaw, 1.0)
        self.frames += len(flat)
        if self.on_frames is not None:
            self.on_frames(len(flat))
        return out.reshape(*lead, 4)
