"""The torch side of `train.deploy`: the export's residual in torch, and GR00T as an asynchronous
chunk source. `mjx_gr00t.deploy.cli.deploy(args, torch_side=bridge.deploy_side)` receives this module.

    residual = load_residual(export_dir)        # obs (37,) float32 numpy -> r (6,); .meta, .alpha, .act_scale
    chunks = groot_chunks(args, task)            # AsyncChunks of the export's GR00T base, warmed up
"""

import os
from typing import Any

import numpy as np
import torch

from bridge.groot.async_chunks import AsyncChunks
from bridge.groot.frames import to_groot_size
from bridge.residual_torch import ResidualPolicy



class TorchResidual:
    """The export's residual (`ResidualPolicy`, float32, CPU) on numpy observations."""

    def __init__(self, policy: ResidualPolicy) -> None:
        self.policy, self.meta = policy, policy.meta
        self.alpha, self.act_scale = policy.alpha, policy.act_scale

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.policy(torch.from_numpy(np.asarray(obs, np.float32))).numpy()


def load_residual(export_dir: str) -> TorchResidual:
    """FileNotFoundError / ValueError for a missing or broken export (see ResidualPolicy.from_export)."""
    return TorchResidual(ResidualPolicy.from_export(export_dir))


def groot_planner(groot: Any, seed: int | None = 0) -> Any:
    """observation {'front', 'wrist': uint8 H x W x 3, 'joints': (6,) rad} -> (16, 6) rad chunk, from a
    `GrootBase` (in process or over ZMQ); frames are resized to 224 x 224 (bilinear). Query k uses
    noise seed `seed + k` (None: the model's own noise)."""
    count = [0]

    def frames(image: np.ndarray) -> torch.Tensor:
        return to_groot_size(np.asarray(image)[None])

    def plan(observation: dict[str, Any]) -> np.ndarray:
        front = frames(observation["front"])
        wrist = frames(observation.get("wrist", observation["front"]))
        joints = torch.as_tensor(np.asarray(observation["joints"], np.float32))[None]
        noise = None if seed is None else seed + count[0]
        count[0] += 1
        return groot.plan(front, wrist, joints, seed=noise)[0].detach().cpu().numpy()

    return plan


def load_groot(export_dir: str, model: str | None, server: str | None, timeout_s: float) -> Any:
    """The GR00T base the export records: loaded here (`model` overrides the recorded checkpoint), or
    behind `server` (tcp://HOST:PORT; token from $GROOT_API_TOKEN)."""
    from bridge.groot.policy import GrootBase

    if not server:
        return GrootBase.from_export(export_dir, model=model)
    from bridge.groot.client import groot_base_from_server
    from mjx_gr00t.export.groot import read_groot_export

    settings = served_settings(read_groot_export(export_dir), model, server, timeout_s)
    return groot_base_from_server(settings, api_token=os.environ.get("GROOT_API_TOKEN"))


def served_settings(rec: Any, model: str | None, server: str, timeout_s: float) -> Any:
    """The GrootSettings that query `server` as training queried its base: the export's GR00T record
    `rec` (`mjx_gr00t.export.groot.GrootExport`) with its contract, where recorded."""
    from mjx_gr00t.groot_settings import GrootSettings

    return GrootSettings(model=model, data_config=rec.data_config, key_map=rec.key_map_name,
                         embodiment_tag=rec.embodiment_tag, n_action_steps=rec.n_action_steps, task=rec.task,
                         server=server, timeout=timeout_s, version=rec.version or "auto")


def groot_chunks(groot: Any, home: np.ndarray, max_age_s: float) -> AsyncChunks:
    """AsyncChunks of `groot`, after one warm-up query (blank frames at `home`, rad) so that the
    first tick does not wait for compilation or a cold server."""
    planner = groot_planner(groot)
    blank = np.zeros((240, 320, 3), np.uint8)
    planner({"front": blank, "wrist": blank, "joints": np.asarray(home, np.float64)})
    return AsyncChunks(planner, groot.n_action_steps, groot.action_horizon, max_age_s)
