"""A recorded twin episode as a LeRobot dataset episode: LeRobot's units and the rig's two cameras.

    units = JointUnits.nominal(model.jnt_range[:6])        # an SO-101 calibrated to the twin's ranges
    states, actions, frames, success = dataset_episode(traj.episode(b), units, renderer)
    writer.add_episode(states, actions, frames, task, {"next.success": success})

`observation.state` is what LeRobot reports for the servos' quantised reading (its tick formulas,
`deploy.robot.JointUnits.reading_of_ticks`); `action` is the goal sent, in the same units. The
frames are rendered at 320 x 240 from each step's physics with the episode's image-side DR draw.
"""

from typing import Any

import numpy as np

from mjx_gr00t.datasets.spec import CAMERAS

RENDER_BATCH = 64
"""Frames rendered per call (bounds memory, not speed)."""


def dataset_episode(episode: dict[str, Any], units: Any,
                    renderer: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """`Trajectories.episode(b)` -> states (L, 6), actions (L, 6) float32 in LeRobot units, frames
    {dataset camera key: uint8 (L, 240, 320, 3)}, success (L,) bool."""
    readings = np.asarray(episode["readings"], np.float64)
    states = units.reading_of_ticks(units.ticks_of_rad(readings)).astype(np.float32)
    actions = units.from_rad(np.asarray(episode["goals"], np.float64)).astype(np.float32)
    qpos = np.asarray(episode["qpos"], np.float64)
    draws = np.repeat(np.asarray(episode["image_dr"], np.float32)[None], len(qpos), axis=0)
    parts: dict[str, list[np.ndarray]] = {key: [] for key in CAMERAS}
    for start in range(0, len(qpos), RENDER_BATCH):
        images = renderer.render(qpos[start:start + RENDER_BATCH], draws[start:start + RENDER_BATCH])
        for key, camera in CAMERAS.items():
            parts[key].append(images[camera])
    frames = {key: np.concatenate(chunks) for key, chunks in parts.items()}
    return states, actions, frames, np.asarray(episode["success"]) > 0.5
