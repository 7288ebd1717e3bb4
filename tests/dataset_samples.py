"""Dataset-writer test helpers (importable: pytest puts tests/ on sys.path): a synthetic episode."""

import numpy as np

from mjx_gr00t.datasets.spec import CAMERAS


def episode(rng, length):
    """states, actions (length, 6), frames {camera key: (length, 240, 320, 3)} with a bright square
    moving 10 px right a frame, and extra {next.success} true on the last frame."""
    states = rng.uniform(-90, 90, (length, 6)).astype(np.float32)
    actions = states + rng.normal(0, 1, (length, 6)).astype(np.float32)
    y, x = np.mgrid[0:240, 0:320]
    base = np.stack([x * 200 / 320, y * 200 / 240, np.full_like(x, 60.0)], axis=-1)  # smooth, like a scene
    frames = {key: np.repeat((base + rng.uniform(0, 40))[None], length, axis=0).astype(np.uint8)
              for key in CAMERAS}
    for key in frames:  # a bright square moving right: decoded frames must keep their order
        for t in range(length):
            frames[key][t, 100:140, 20 + 10 * t:60 + 10 * t] = 255
    success = np.zeros(length, bool)
    success[-1] = True
    return states, actions, frames, {"next.success": success}
