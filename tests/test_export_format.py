"""mjx_gr00t.export.format: the one atomic writer (fsynced, all or nothing), read_meta's checks, and
the JAX-free leaves of the export package."""

import json
import os
import stat
import subprocess
import sys

import pytest

from mjx_gr00t.export import format as fmt


def _listing(directory: str) -> list[str]:
    return sorted(os.listdir(directory))


def test_json_writer_bytes_replace_and_mode(tmp_path: os.PathLike) -> None:
    path = os.path.join(tmp_path, "run.json")
    record = {"b": [1, 2.5, None], "a": {"x": "é"}}
    fmt.write_json_atomic(path, record)
    with open(path, "rb") as f:
        assert f.read() == (json.dumps(record, indent=2) + "\n").encode()
    fmt.write_json_atomic(path, {"new": True})  # replaces
    with open(path) as f:
        assert json.load(f) == {"new": True}
    plain = os.path.join(tmp_path, "plain")
    with open(plain, "wb"):
        pass
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)  # not mkstemp's 0600
    assert _listing(tmp_path) == ["plain", "run.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: os.PathLike, monkeypatch) -> None:
    path = os.path.join(tmp_path, "residual.json")
    fmt.write_bytes_atomic(path, b"old\n")

    with pytest.raises(TypeError):  # fails while writing the temp file
        fmt.write_bytes_atomic(path, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not JSON serializable"):  # fails before any file is touched
        fmt.write_json_atomic(path, {"x": object()})

    def no_rename(src: str, dst: str) -> None:
        assert os.path.isfile(src) and os.path.dirname(src) == os.path.dirname(dst)  # temp beside the target
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        fmt.write_bytes_atomic(path, b"new\n")
    monkeypatch.undo()
    with open(path, "rb") as f:
        assert f.read() == b"old\n"
    assert _listing(tmp_path) == ["residual.json"]


def test_writer_fsyncs_the_file_then_renames_then_fsyncs_the_directory(tmp_path: os.PathLike, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        events.append("fsync dir" if stat.S_ISDIR(st.st_mode) else f"fsync file of {st.st_size} bytes")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    fmt.write_bytes_atomic(os.path.join(tmp_path, "f.bin"), b"data")
    assert events == ["fsync file of 4 bytes", "rename", "fsync dir"]


def test_read_meta_errors(tmp_path: os.PathLike) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        fmt.read_meta(os.path.join(tmp_path, "nowhere"))
    meta_path = os.path.join(tmp_path, fmt.META_FILE)
    fmt.write_json_atomic(meta_path, {"format_version": fmt.FORMAT_VERSION})
    with pytest.raises(FileNotFoundError, match="residual.safetensors"):
        fmt.read_meta(tmp_path)
    fmt.write_bytes_atomic(os.path.join(tmp_path, fmt.TENSORS_FILE), b"")
    assert fmt.read_meta(tmp_path) == {"format_version": fmt.FORMAT_VERSION}
    fmt.write_json_atomic(meta_path, {"format_version": 99})
    with pytest.raises(ValueError, match="format_version 99"):
        fmt.read_meta(tmp_path)
    fmt.write_bytes_atomic(meta_path, b"{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        fmt.read_meta(tmp_path)


def test_format_units_groot_and_spec_load_without_jax() -> None:
    """The leaves the torch bridge may import: none of them loads JAX, brax or torch."""
    code = ("import sys\n"
            "import mjx_gr00t.export.format, mjx_gr00t.export.units, mjx_gr00t.export.groot, mjx_gr00t.export.spec\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'jaxlib', 'brax', 'flax', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_read_json_lines_skips_a_torn_line(tmp_path):
    from mjx_gr00t.export.format import read_json_lines
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b"')
    assert read_json_lines(path) == [{"a": 1}, {"a": 2}]
