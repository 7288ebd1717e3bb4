"""Exact (bitwise) save and resume of a training state with orbax's CheckpointManager.

Step `n` lives in `<dir>/n/` (`state/` pytree, `config/` JSON). Orbax writes it into
`n.orbax-checkpoint-tmp-*`, adds `commit_success.txt` and renames it, so a crash leaves only a temporary
directory; step directories lacking `commit_success.txt` or `_CHECKPOINT_METADATA` are ignored too.
"""

import contextlib
import dataclasses
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

PyTree = Any

_COMMIT_FILE: str = "commit_success.txt"
_METADATA_FILE: str = "_CHECKPOINT_METADATA"
_MISSING: str = "<missing>"

log = logging.getLogger(__name__)


def _quiet_orbax(record: logging.LogRecord) -> bool:
    """Drops orbax's chatty INFO records (dozens per save) from the absl logger, and its warnings that
    a read-only Checkpointer is read-only; keeps other warnings."""
    if f"{os.sep}orbax{os.sep}" not in record.pathname:
        return True
    return record.levelno >= logging.WARNING and "read only" not in record.getMessage().replace("_", " ")


logging.getLogger("absl").addFilter(_quiet_orbax)


class ConfigMismatchError(ValueError):
    """The config saved with a checkpoint differs from the current run's config."""


def _is_complete(step_dir: epath.Path) -> bool:
    """Whether a step directory was fully written and committed by orbax."""
    return (step_dir / _COMMIT_FILE).exists() and (step_dir / _METADATA_FILE).exists()


@dataclasses.dataclass(frozen=True)
class _CompleteStepsFormat(ocp.step.NameFormat):
    """Orbax's standard step naming (`<step>/`) that only reports complete step directories."""

    inner: Any = dataclasses.field(default_factory=ocp.step.standard_name_format)

    def build_name(self, step: int) -> str:
        return self.inner.build_name(step)

    def find_all(self, base_path: epath.PathLike) -> Iterator[ocp.step.Metadata]:
        return (m for m in self.inner.find_all(base_path) if _is_complete(m.path))

    def find_step(self, base_path: epath.PathLike, step: int) -> ocp.step.Metadata:
        meta = self.inner.find_step(base_path, step)
        if not _is_complete(meta.path):
            raise ValueError(f"checkpoint step directory {meta.path} is incomplete")
        return meta


def _flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        nested = isinstance(value, Mapping) and value
        flat.update(_flatten_config(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value})
    return flat


def _like(target: Any, restored: Any) -> Any:
    """`restored` placed as `target` was: a NumPy scalar for a NumPy scalar, and an uncommitted array
    for an uncommitted one (orbax commits every array it restores to a device, and a jitted function
    called with committed arrays where it was first called with uncommitted ones compiles again)."""
    if isinstance(target, np.generic):
        return restored[()]
    if isinstance(target, jax.Array) and not target.committed:
        return jnp.asarray(np.asarray(restored))
    return restored


def _path_str(keypath: tuple[Any, ...]) -> str:
    """A jax key path as `a.b.0`, matching orbax's names for saved leaves."""
    parts = (getattr(k, "key", getattr(k, "name", getattr(k, "idx", k))) for k in keypath)
    return ".".join(str(p) for p in parts)


def _abstract(leaf: Any) -> Any:
    """The restore target orbax wants for one leaf: shape/dtype/sharding, or the Python scalar."""
    if isinstance(leaf, jax.Array):
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding)
    if isinstance(leaf, jax.ShapeDtypeStruct) and leaf.sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)
    if isinstance(leaf, (np.ndarray, np.generic)):
        return jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype)
    return leaf


@contextlib.contextmanager
def _defer_sigint() -> Iterator[None]:
    """Holds back one Ctrl-C until the block ends, then raises KeyboardInterrupt (main thread only)."""
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if received:  # a second Ctrl-C interrupts at once
            raise KeyboardInterrupt
        received.append(signum)

    defer = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if defer:
        signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        if defer:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


class Checkpointer:
    """Saves and restores whole training states under one directory, keeping the newest few."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_to_keep: int | None = 3,
        config: Mapping[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        self.directory = epath.Path(os.path.abspath(os.fspath(directory)))
        try:
            self.config: dict[str, Any] = json.loads(json.dumps(dict(config or {})))
        except (TypeError, ValueError) as e:
            raise TypeError(f"checkpoint config must be JSON-serialisable: {e}") from e
        self.read_only = read_only
        if not read_only:
            self._check_writable()
        self._names = _CompleteStepsFormat()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=None if read_only else max_to_keep,
            enable_async_checkpointing=False,
            create=not read_only,
            read_only=read_only,
            cleanup_tmp_directories=not read_only,
            step_name_format=self._names,
        )
        # Registering both items' handlers up front keeps orbax from warning about the item not restored.
        registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
        for item, handler, save, restore in (
            ("state", ocp.StandardCheckpointHandler, ocp.args.StandardSave, ocp.args.StandardRestore),
            ("config", ocp.JsonCheckpointHandler, ocp.args.JsonSave, ocp.args.JsonRestore),
        ):
            registry.add(item, save, handler)
            registry.add(item, restore, handler)
        self._mgr = ocp.CheckpointManager(self.directory, options=options, handler_registry=registry)

    def _check_writable(self) -> None:
        """Creates the directory and writes a probe file; raises OSError with a clear message."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".write-probe-"):
                pass
        except OSError as e:
            msg = f"cannot write checkpoints to {self.directory}: {e.strerror or e}; choose a writable --out"
            raise OSError(e.errno or 0, msg) from e

    def all_steps(self) -> list[int]:
        """All complete saved steps, oldest first (re-reads the directory)."""
        self._mgr.reload()
        return sorted(self._mgr.all_steps())

    def latest_step(self) -> int | None:
        """The newest complete saved step, or None."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def _resolve(self, step: int | None) -> int:
        """`step` (or the latest) if it is a complete checkpoint; FileNotFoundError otherwise."""
        steps = self.all_steps()
        if not steps:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory}")
        if step is not None and step not in steps:
            raise FileNotFoundError(f"no complete checkpoint for step {step} in {self.directory} ({steps})")
        return steps[-1] if step is None else step

    def save(self, step: int, state: PyTree) -> None:
        """Saves `state` and the config as `step`; returns once it is on disk. Ctrl-C waits for it."""
        if self.read_only:
            raise PermissionError(f"checkpointer for {self.directory} was opened read-only")
        for keypath, leaf in jax.tree_util.tree_leaves_with_path(state):
            if hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                raise TypeError(f"{_path_str(keypath)} is a typed PRNG key; save jax.random.key_data(key)")
        step_dir = self.directory / self._names.build_name(step)
        with _defer_sigint():
            if step_dir.exists() and not _is_complete(step_dir):
                aside = step_dir.parent / f"{step_dir.name}.incomplete-{time.time_ns()}"
                log.warning("moving incomplete checkpoint %s aside to %s", step_dir, aside)
                step_dir.rename(aside)
            config = ocp.args.JsonSave(self.config)
            args = ocp.args.Composite(state=ocp.args.StandardSave(state), config=config)
            self._mgr.save(int(step), args=args, force=True)
            self._mgr.wait_until_finished()

    def _check_shapes(self, target: PyTree, step: int) -> None:
        """Raises ValueError if array shapes/dtypes in `target` differ from the saved ones."""
        meta = self._mgr.item_metadata(step)["state"]
        items = jax.tree_util.tree_leaves_with_path(getattr(meta, "tree", meta))
        saved = {_path_str(p): f"{np.dtype(m.dtype)}{list(m.shape)}" for p, m in items if hasattr(m, "dtype")}
        where = f"checkpoint {self.directory} step {step}"
        wanted = {_path_str(p) for p, _ in jax.tree_util.tree_leaves_with_path(target)}
        known = {_path_str(p) for p, _ in items}
        missing, extra = sorted(wanted - known), sorted(known - wanted)
        if missing or extra:
            raise ValueError(
                f"{where} holds a differently laid-out training state, so it cannot be resumed by this "
                f"code (written by another version of mjx-gr00t, or for other options): "
                + "; ".join(part for part in (
                    f"not in the checkpoint: {', '.join(missing)}" if missing else "",
                    f"not expected: {', '.join(extra)}" if extra else "") if part)
                + ". Start a new run (a new --out), or resume with the version that wrote it")
        diffs = []
        for keypath, leaf in jax.tree_util.tree_leaves_with_path(target):
            name, want = _path_str(keypath), f"{np.dtype(getattr(leaf, 'dtype', 'O'))}{list(np.shape(leaf))}"
            if hasattr(leaf, "dtype") and saved.get(name, want) != want:
                diffs.append(f"{name}: saved {saved[name]} vs target {want}")
        if diffs:
            raise ValueError(f"{where} does not fit the target: {'; '.join(diffs)}")

    def restore(self, target: PyTree, step: int | None = None) -> PyTree:
        """The saved state of `step` (default: latest complete), with `target`'s structure and types."""
        step = self._resolve(step)
        self._check_shapes(target, step)
        leaves, treedef = jax.tree.flatten(target)
        abstract = jax.tree.unflatten(treedef, [_abstract(x) for x in leaves])
        args = ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
        try:
            restored = self._mgr.restore(step, args=args).state
        except ValueError as e:
            raise ValueError(f"cannot restore {self.directory} step {step} into the target: {e}") from e
        # Orbax restores with the target's tree structure; NumPy scalars come back as 0-d arrays.
        out = zip(leaves, jax.tree.leaves(restored), strict=True)
        return jax.tree.unflatten(treedef, [_like(t, r) for t, r in out])

    def saved_config(self, step: int | None = None) -> dict[str, Any]:
        """The config saved with `step` (default: latest complete step)."""
        step = self._resolve(step)
        args = ocp.args.Composite(config=ocp.args.JsonRestore())
        return dict(self._mgr.restore(step, args=args).config)

    def check_config(
        self, current: Mapping[str, Any], ignore: Iterable[str] = (), step: int | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Raises ConfigMismatchError if the saved config differs from `current` outside `ignore`.

        Nested dicts are compared per leaf (`net.hidden`); `ignore` takes top-level or dotted keys.
        defaults: a key the saved config lacks matches when its current value is this default (a
        setting added after the checkpoint was written, left at the value that keeps old behaviour)."""
        ignored = tuple(ignore)
        saved = _flatten_config(self.saved_config(step))
        now = _flatten_config(json.loads(json.dumps(dict(current))))
        absent = _flatten_config(json.loads(json.dumps(dict(defaults or {}))))
        diffs = [
            f"{key}: saved {saved.get(key, _MISSING)!r} vs current {now.get(key, _MISSING)!r}"
            for key in sorted(saved.keys() | now.keys())
            if saved.get(key, _MISSING) != now.get(key, _MISSING)
            and not any(key == i or key.startswith(f"{i}.") for i in ignored)
            and not (key not in saved and key in absent and absent[key] == now.get(key, _MISSING))
        ]
        if diffs:
            raise ConfigMismatchError(
                f"config differs from the checkpoint in {self.directory} ({'; '.join(diffs)}); "
                "use a new --out, or pass the same flags as the original run"
            )

    def close(self) -> None:
        """Waits for pending work and releases orbax's resources."""
        self._mgr.close()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
