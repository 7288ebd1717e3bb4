"""Camera frames as GR00T N1.5 reads them: 224 x 224 RGB, resized bilinearly from the robot's (or the
dataset's) 320 x 240, the one resize that deployment and fine-tuning share."""

import numpy as np
import torch
import torch.nn.functional as F

GROOT_SIZE = 224
"""GR00T N1.5's image size."""


def to_groot_size(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> uint8 (B, 224, 224, 3) (bilinear, rounded), on the CPU."""
    x = torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(GROOT_SIZE, GROOT_SIZE), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
