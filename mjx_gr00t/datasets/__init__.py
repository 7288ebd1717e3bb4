"""LeRobot datasets of SO-101 episodes: `lerobot_v21` (the format of the real paper-return data, which
Isaac-GR00T reads), and `video` (H.264 mp4 with PyAV)."""
