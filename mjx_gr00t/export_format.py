"""The export directory's file format, readable without JAX or torch (the torch bridge uses it too).

    DIR/residual.json          metadata (see mjx_gr00t.export)
    DIR/residual.safetensors   weights and observation normaliser
"""

import json
import os
from typing import Any

FORMAT_VERSION: int = 1
TENSORS_FILE: str = "residual.safetensors"
META_FILE: str = "residual.json"


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
            raise FileNotFoundError(f"{path!r} is missing; write it with mjx_gr00t.export.write_export")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{meta_path!r} is not valid JSON: {e}") from e
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version != FORMAT_VERSION:
        raise ValueError(f"{meta_path!r} has format_version {version!r}; this code reads {FORMAT_VERSION}")
    return meta
