"""H.264 mp4 files of uint8 RGB frames, with PyAV (FFmpeg's libx264), and reading them back.

    write_mp4(path, frames, fps=30)      # frames (T, H, W, 3) uint8 -> yuv420p H.264, every frame kept
    frames = read_mp4(path)              # (T, H, W, 3) uint8

H.264 (avc1), yuv420p: the codec of the real paper-return data and one every Isaac-GR00T video
backend decodes (LeRobot's default AV1 is not guaranteed there). Written to a temporary file and
renamed, so a crash never leaves a half-written mp4 under the final name.
"""

import os

import av
import numpy as np

CODEC = "h264"
PIX_FMT = "yuv420p"
CRF = 23
"""x264's constant rate factor: visually lossless for these frames at a few kB a frame."""
GOP = 2
"""Keyframe interval, frames (LeRobot's `g`): short, so random frame access decodes little."""


def write_mp4(path: str, frames: np.ndarray, fps: int) -> None:
    """frames (T, H, W, 3) uint8 RGB, H and W even -> `path` (atomically)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise ValueError("an episode's video needs at least one frame")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {height} x {width}")
    tmp = f"{path}.part"
    with av.open(tmp, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
        stream.options = {"crf": str(CRF), "g": str(GOP), "preset": "veryfast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)


def read_mp4(path: str) -> np.ndarray:
    """Every frame of `path` as uint8 (T, H, W, 3) RGB."""
    with av.open(path) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def probe(path: str) -> dict[str, object]:
    """The first video stream's codec, pixel format, size, frame rate and frame count."""
    with av.open(path) as container:
        s = container.streams.video[0]
        frames = s.frames or sum(1 for _ in container.decode(video=0))
        return {"codec": s.codec_context.name, "pix_fmt": s.codec_context.pix_fmt, "width": s.codec_context.width,
                "height": s.codec_context.height, "fps": float(s.average_rate), "frames": int(frames)}
