"""The export directory's file format and the project's one atomic writer (standard library only:
the torch bridge reads exports with it).

    DIR/residual.json          metadata (see mjx_gr00t.export.write)
    DIR/residual.safetensors   weights and observation normaliser
"""

import json
import os
import secrets
from typing import Any

FORMAT_VERSION: int = 1
TENSORS_FILE: str = "residual.safetensors"
META_FILE: str = "residual.json"


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes `data` to `path` so that readers see the old file or the new one, never half of one,
    also after a crash or power loss.

    The bytes go to a temporary file in the same directory (removed again on any error), which is
    flushed and fsynced, renamed over `path`, and then the directory is fsynced (where the OS allows
    opening a directory). The new file gets the mode a plain `open(path, "wb")` would give it.
    """
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(path) or ".")


def _fsync_dir(directory: str) -> None:
    """Makes a rename in `directory` durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: str | os.PathLike[str], record: Any) -> None:
    """Writes `record` as JSON (indent 2, a final newline) to `path` with `write_bytes_atomic`."""
    write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode())


def read_meta(export_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """residual.json of `export_dir`, after checking the directory, both files and the format version.

    FileNotFoundError names a missing directory or file; ValueError a broken json or another version.
    """
    export_dir = os.fspath(export_dir)
    if not os.path.isdir(export_dir):
        raise FileNotFoundError(f"export directory {export_dir!r} does not exist")
    meta_path = os.path.join(export_dir, META_FILE)
    for path in (meta_path, os.path.join(export_dir, TENSORS_FILE)):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path!r} is missing; write it with mjx_gr00t.export.write.write_export")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path!r} is not valid JSON: {e}") from e
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{meta_path!r} has format_version {version!r}; this code reads {FORMAT_VERSION}")
    return meta


def read_json_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a torn line (a crash mid-append) is skipped."""
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
