"""Random GR00T-bridge inputs shared by the bridge tests (importable: pytest puts tests/ on sys.path)."""

import numpy as np

from bridge.groot import SO101_JOINT_RANGES

RANGES = np.asarray(SO101_JOINT_RANGES)
"""(6, 2) sim joint ranges, rad."""


def random_obs(seed: int = 0, n: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(front, wrist) uint8 (n, 224, 224, 3) noise images and joint positions float32 (n, 6) rad,
    inside 70 % of each joint's range."""
    rng = np.random.default_rng(seed)
    front = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    wrist = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    q = rng.uniform(0.7 * RANGES[:, 0], 0.7 * RANGES[:, 1], (n, 6)).astype(np.float32)
    return front, wrist, q
