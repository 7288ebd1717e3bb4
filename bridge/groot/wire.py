"""The wire of Isaac-GR00T's ZMQ inference protocol (see bridge/groot/client.py for the protocol facts):
msgpack messages with numpy arrays (never pickle), ModalityConfig, addresses, errors.

    pack({"endpoint": "ping"}) -> bytes;  unpack(bytes, "the server at tcp://h:5555") -> object

Arrays travel in one of two forms, and `unpack` reads both:
- "npy" (N1.5 and the early N1.6 servers): {"__ndarray_class__": True, "as_npy": np.save bytes};
- "msgpack_numpy" (the GA release): {"nd": True, "type": dtype.str, "kind": "", "shape": [...],
  "data": raw bytes}, as msgpack-numpy writes it (object arrays refused).
`pack(obj, arrays="msgpack_numpy")` writes the second. A ModalityConfig travels as
{"__ModalityConfig_class__": True, "as_json": ...} (N1.5, early N1.6) or under the GA release's marker
"__ModalityConfig__" (with msgpack_numpy; its body's exact layout is not in our reference, so either
an "as_json" string or the fields inline are read).
"""

import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack
import numpy as np
import torch

from bridge.groot.layout import min_max

DEFAULT_PORT: int = 5555
DEFAULT_TIMEOUT_S: float = 30.0
UNAUTHORIZED: str = "Unauthorized: Invalid API token"
PYZMQ_INSTALL: str = 'pip install pyzmq==27.3.0 (or the extra: pip install -e ".[bridge]")'
SERVE_HINT: str = "python -m bridge.groot.server --model DIR --host HOST --port {port}"


def import_zmq() -> Any:
    """The pyzmq module; ImportError saying how to install it when it is missing."""
    try:
        import zmq
    except ImportError as e:
        raise ImportError(f"the GR00T ZMQ transport needs pyzmq, which is not installed: {PYZMQ_INSTALL}") from e
    return zmq


@dataclasses.dataclass(frozen=True)
class ModalityConfig:
    """Isaac-GR00T's ModalityConfig as the wire carries it: which keys, at which time offsets."""

    delta_indices: tuple[int, ...]
    modality_keys: tuple[str, ...]


ARRAY_FORMS: tuple[str, ...] = ("npy", "msgpack_numpy")


def _array(obj: np.ndarray, arrays: str) -> dict[str, Any]:
    if arrays == "msgpack_numpy":
        if obj.dtype.kind in "OV":
            raise TypeError(f"cannot send a {obj.dtype} array in the msgpack-numpy form (plain dtypes only)")
        return {b"nd": True, b"type": obj.dtype.str, b"kind": b"", b"shape": list(obj.shape),
                b"data": np.ascontiguousarray(obj).tobytes()}
    buf = io.BytesIO()
    np.save(buf, obj, allow_pickle=False)
    return {"__ndarray_class__": True, "as_npy": buf.getvalue()}


def _encode(obj: Any, arrays: str = "npy") -> Any:
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return _array(obj, arrays)
    if isinstance(obj, ModalityConfig):
        body = {"delta_indices": list(obj.delta_indices), "modality_keys": list(obj.modality_keys)}
        marker = "__ModalityConfig__" if arrays == "msgpack_numpy" else "__ModalityConfig_class__"
        return {marker: True, "as_json": json.dumps(body)}
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot send {type(obj).__name__} over the GR00T ZMQ protocol "
                    "(numpy arrays, torch tensors, str, numbers, lists and dicts only)")


def _decode(obj: dict[Any, Any]) -> Any:
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    nd = obj.get(b"nd", obj.get("nd")) if len(obj) <= 5 else None
    if nd is True:  # msgpack-numpy's form (its keys arrive as bytes, or as str from other writers)
        get = lambda k: obj.get(k.encode(), obj.get(k))  # noqa: E731
        dtype = np.dtype(get("type") if isinstance(get("type"), str) else get("type").decode())
        if dtype.kind in "OV":
            raise ValueError(f"refusing a {dtype} array from the wire (plain dtypes only, never pickle)")
        return np.frombuffer(get("data"), dtype=dtype).reshape(get("shape")).copy()
    if "__ModalityConfig_class__" in obj or "__ModalityConfig__" in obj:
        body = json.loads(obj["as_json"]) if "as_json" in obj else obj
        return ModalityConfig(tuple(body["delta_indices"]), tuple(body["modality_keys"]))
    return obj


def pack(obj: Any, arrays: str = "npy") -> bytes:
    """One protocol message: msgpack, numpy arrays in the `arrays` form (module docstring)."""
    if arrays not in ARRAY_FORMS:
        raise ValueError(f"arrays must be one of {ARRAY_FORMS}, got {arrays!r}")
    return msgpack.packb(obj, default=lambda o: _encode(o, arrays))


def unpack(data: bytes, sender: str) -> Any:
    """Inverse of `pack`; ValueError naming `sender` for a message in another format."""
    try:
        return msgpack.unpackb(data, object_hook=_decode)
    except Exception as e:  # noqa: BLE001  (msgpack raises several types for foreign bytes)
        if data[:4] == b"PK\x03\x04":  # torch.save's zip container
            raise ValueError(
                f"{sender} speaks the older torch.save-based Isaac-GR00T protocol, which this bridge does not "
                "unpickle; update Isaac-GR00T to its msgpack-based service.py, or `python -m bridge.groot.server`"
            ) from e
        raise ValueError(f"{sender} sent a message that is not the GR00T msgpack protocol: {e}") from e


def parse_address(address: str) -> str:
    """'tcp://HOST:PORT', 'HOST:PORT' or 'HOST' (port 5555) -> 'tcp://HOST:PORT'."""
    rest = address.strip()
    if rest.startswith("tcp://"):
        rest = rest[len("tcp://"):]
    elif "://" in rest:
        raise ValueError(f"only tcp:// server addresses are supported, got {address!r}")
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad GR00T server address {address!r}; expected tcp://HOST:PORT, e.g. tcp://localhost:5555")
    return f"tcp://{host}:{int(port)}"


class GrootServerError(RuntimeError):
    """The server answered {"error": ...} (its handler failed, or the endpoint is unknown)."""


def minmax_stats(emb: Mapping[str, Any], keys: Sequence[tuple[str, int]], modality: str,
           device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """key -> (min, max) float64 on `device`: float64 keeps a float32 round trip through raw units exact."""
    return {k: tuple(torch.as_tensor(a, dtype=torch.float64, device=device) for a in min_max(emb, [(k, n)], modality))
            for k, n in keys}
