"""GR00T's settings, in one torch-free record: what `--base groot` loads, how it plans, where it runs.

    settings = GrootSettings(model="ckpt_dir", n_action_steps=8)   # a trainer nests it: --groot.model ...
    check_groot(settings, base="groot")                           # UsageError naming the flag to fix

The bridge takes views of it (`bridge.groot.policy.GrootBase.from_pretrained(settings)`,
`bridge.groot.client.groot_base_from_server(settings)`, `bridge.groot.planner.export_record(settings)`
for residual.json). Stdlib only: every layer may import it.
"""

import dataclasses
import re
from typing import Literal

from mjx_gr00t.errors import UsageError

CHUNK_STEPS: int = 16
"""Steps of a GR00T N1.5 action chunk (its action horizon)."""

MACHINE_FIELDS: tuple[str, ...] = ("device", "torch_threads", "server", "timeout")
"""Fields that say where GR00T runs, not what it computes: they may change on resume."""

_ADDRESS = re.compile(r"(tcp://)?[^\s:/]+(:\d{1,5})?")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


@dataclasses.dataclass(frozen=True)
class GrootSettings:
    """A GR00T base (N1.5, N1.6/N1.7): the checkpoint, its data layout, how it plans and where it runs (hashable)."""

    model: str | None = None
    """--base groot: the GR00T N1.5 checkpoint, a local directory or a Hugging Face id (a real one
    needs the optional `gr00t` package; a tiny one for tests: python -m bridge.tiny --out DIR).
    With --groot.server: optional, a local checkpoint directory read only for its metadata.json."""
    version: Literal["auto", "n1.5", "n1.7"] = "auto"
    """--base groot: GR00T's contract: n1.5 (flat keys, experiment_cfg/metadata.json) or n1.7 (N1.6/N1.7:
    nested observation, (action, info), processor files, relative arm actions); auto reads it from
    the checkpoint's files, a Hugging Face id's name, or (--groot.server without --groot.model) the server."""
    data_config: Literal["so100_dualcam", "so100"] = "so100_dualcam"
    """--base groot: GR00T data config (bridge.groot.layout.DATA_CONFIGS): cameras, state and action keys."""
    key_map: Literal["cam01_arm0"] | None = None
    """--base groot: key map for fine-tunes with other keys (bridge.groot.layout.KEY_MAPS), e.g.
    cam01_arm0 for video.image_cam_0/1, state.arm_0, action.arm_0."""
    embodiment_tag: str = "new_embodiment"
    """--base groot: embodiment tag in the checkpoint's experiment_cfg/metadata.json."""
    n_action_steps: int = 8
    """--base groot: steps of each 16-step chunk executed before GR00T plans again (1..16)."""
    max_batch: int = 64
    """--base groot: largest sub-batch of envs given to GR00T at once (memory)."""
    task: str = "Slide the paper into the red square."
    """--base groot: the language instruction given to GR00T."""
    device: str = "cpu"
    """--base groot: torch device of the model: cpu, cuda or cuda:N."""
    torch_threads: int = 1
    """--base groot: torch CPU threads (torch shares the CPU with JAX; 0 keeps torch's default)."""
    server: str | None = None
    """--base groot: query a running GR00T inference server at tcp://HOST:PORT (`python -m
    bridge.groot.server --model DIR`, or Isaac-GR00T's own) instead of loading the model here;
    --groot.model is then optional (see there). An API token, if the server wants one, comes from
    $GROOT_API_TOKEN (settings go into run.json)."""
    timeout: float = 60.0
    """--base groot with --groot.server: seconds to wait for each reply."""


def groot_problem(settings: GrootSettings) -> tuple[str, str] | None:
    """The first field of `settings` that cannot work, as (field name, "must be ..., got ..."), or None.

    These checks hold for any use of the settings; `check_groot` adds those of a trainer's --base."""
    s = settings
    checks = (
        ("server", not s.server or _ADDRESS.fullmatch(s.server),
         f"must be tcp://HOST:PORT, e.g. tcp://gpu-box:5555, got {s.server!r}"),
        ("timeout", s.timeout > 0, f"must be > 0 seconds, got {s.timeout}"),
        ("n_action_steps", 1 <= s.n_action_steps <= CHUNK_STEPS,
         f"must be in 1..{CHUNK_STEPS} (GR00T's chunk), got {s.n_action_steps}"),
        ("max_batch", s.max_batch >= 1, f"must be >= 1, got {s.max_batch}"),
        ("torch_threads", s.torch_threads >= 0, f"must be >= 0, got {s.torch_threads}"),
        ("task", s.task.strip(), "must be a non-empty instruction"),
        ("device", _DEVICE.fullmatch(s.device), f"must be 'cpu', 'cuda' or 'cuda:N', got {s.device!r}"),
    )
    return next(((name, text) for name, ok, text in checks if not ok), None)


def flag(field: str) -> str:
    """The trainer flag of a GrootSettings field: 'n_action_steps' -> '--groot.n-action-steps'."""
    return "--groot." + field.replace("_", "-")


def check_groot(settings: GrootSettings, base: str) -> None:
    """UsageError for GR00T settings that cannot work with a trainer's `--base` (named `base`).

    Only --base groot uses them: elsewhere --groot.model and --groot.server are errors; with it one
    of them is needed, and every field must pass `groot_problem`."""
    if base != "groot":
        for name in ("model", "server"):
            if getattr(settings, name) is not None:
                raise UsageError(f"{flag(name)} applies to --base groot only (this run has --base {base})")
        return
    if not settings.model and not settings.server:
        raise UsageError(
            "--base groot needs the GR00T torch bridge: pass --groot.model with a checkpoint directory or "
            "Hugging Face id (a tiny one for tests: python -m bridge.tiny --out DIR), or --groot.server "
            "tcp://HOST:5555 for a running GR00T inference server")
    problem = groot_problem(settings)
    if problem is not None:
        raise UsageError(f"{flag(problem[0])} {problem[1]}")
