"""Wire-faithful stand-ins of Isaac-GR00T's two inference servers, written from
../shared/reference/gr00t.md and gr00t_n17.md alone (they share no code with bridge.groot.wire or
server, so a test against them checks our client against the reference, not against itself).

    with standin_server("n1.7") as address: ...   # tcp://127.0.0.1:PORT, a thread; stopped on exit

- "n1.5": `RobotInferenceServer`: msgpack {"endpoint", "data"}; get_action(data) with flat keys
  (`state.single_arm` (B,1,5), ...) -> {"action.single_arm": (B,16,5), "action.gripper": (B,16,1)};
  get_modality_config; ping {"status": "ok", ...}; kill; no reset; arrays as
  {"__ndarray_class__": True, "as_npy": np.save bytes}; ModalityConfig as
  {"__ModalityConfig_class__": True, "as_json": ...}.
- "n1.7": the GA `PolicyServer`: the handler called with data as keyword arguments; get_action
  (observation, options) -> [action, info] with nested groups; reset(options) -> {};
  get_modality_config; arrays in msgpack-numpy's form {b"nd", b"type", b"kind", b"shape", b"data"};
  ModalityConfig under "__ModalityConfig__".
The served policy is a known function of the state, so a test can compute the chunk by hand:
arm[t] = state_arm + ARM_STEP_DEG * t (absolute; the N1.7 server has already made it absolute),
gripper[t] = GRIPPER.
"""

import contextlib
import dataclasses
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import numpy as np
import zmq

ARM_STEP_DEG: float = 0.5
GRIPPER: float = 30.0
HORIZON: int = 16


@dataclasses.dataclass(frozen=True)
class _Modality:
    """Isaac-GR00T's ModalityConfig, as the servers hold it."""

    delta_indices: tuple[int, ...]
    modality_keys: tuple[str, ...]


def _encode(obj: Any, version: str) -> Any:
    if isinstance(obj, np.ndarray):
        if version == "n1.7":
            return {b"nd": True, b"type": obj.dtype.str, b"kind": b"", b"shape": list(obj.shape), b"data": obj.tobytes()}
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": buf.getvalue()}
    if isinstance(obj, _Modality):
        body = json.dumps({"delta_indices": list(obj.delta_indices), "modality_keys": list(obj.modality_keys)})
        return {"__ModalityConfig__" if version == "n1.7" else "__ModalityConfig_class__": True, "as_json": body}
    raise TypeError(type(obj))


def _decode(obj: dict) -> Any:
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    if obj.get(b"nd") is True or obj.get("nd") is True:
        get = lambda k: obj[k.encode()] if k.encode() in obj else obj[k]  # noqa: E731
        kind = get("type")
        return np.frombuffer(get("data"), dtype=np.dtype(kind if isinstance(kind, str) else kind.decode())).reshape(
            get("shape"))
    return obj


def _chunk(arm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """arm (B, 5) degrees -> ((B, 16, 5), (B, 16, 1)) the stand-in's chunk."""
    t = np.arange(HORIZON, dtype=np.float32)[None, :, None]
    return (arm[:, None, :] + ARM_STEP_DEG * t).astype(np.float32), np.full((len(arm), HORIZON, 1), GRIPPER, np.float32)


def _modalities(prefix: bool) -> dict[str, Any]:
    p = (lambda m, k: f"{m}.{k}") if prefix else (lambda m, k: k)  # noqa: E731
    return {"video": _Modality((0,), (p("video", "front"), p("video", "wrist"))),
            "state": _Modality((0,), (p("state", "single_arm"), p("state", "gripper"))),
            "action": _Modality(tuple(range(HORIZON)), (p("action", "single_arm"), p("action", "gripper"))),
            "language": _Modality((0,), ("annotation.human.task_description",))}


def _n15_handlers() -> dict[str, Any]:
    def get_action(data: dict) -> dict:
        arm, grip = _chunk(np.asarray(data["state.single_arm"], np.float32)[:, -1])
        return {"action.single_arm": arm, "action.gripper": grip}

    return {"get_action": get_action, "get_modality_config": lambda data: _modalities(prefix=True),
            "ping": lambda data: {"status": "ok", "message": "Server is running"}}


def _n17_handlers(seen: list) -> dict[str, Any]:
    def get_action(observation: dict, options: Any = None) -> list:
        seen.append({"observation": observation, "options": options})
        assert set(observation) == {"video", "state", "language"}, observation.keys()
        arm, grip = _chunk(np.asarray(observation["state"]["single_arm"], np.float32)[:, -1])
        return [{"single_arm": arm, "gripper": grip}, {"stand_in": True}]

    return {"get_action": get_action, "reset": lambda options=None: {},
            "get_modality_config": lambda: _modalities(prefix=False),
            "ping": lambda: {"status": "ok", "message": "Server is running"}}


@contextlib.contextmanager
def standin_server(version: str) -> Iterator[tuple[str, list]]:
    """(address, requests seen by the N1.7 stand-in's get_action) of a stand-in serving in a thread."""
    seen: list = []
    handlers = _n17_handlers(seen) if version == "n1.7" else _n15_handlers()
    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind("tcp://127.0.0.1:*")
    address = socket.getsockopt_string(zmq.LAST_ENDPOINT)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if not socket.poll(50):
                continue
            request = msgpack.unpackb(socket.recv(), object_hook=_decode)
            endpoint, data = request.get("endpoint", "get_action"), request.get("data") or {}
            if endpoint == "kill":
                reply: Any = {"status": "ok"}
            elif endpoint not in handlers:
                reply = {"error": f"Unknown endpoint: {endpoint}"}
            else:
                try:
                    reply = handlers[endpoint](**data) if version == "n1.7" else handlers[endpoint](data)
                except Exception as e:  # noqa: BLE001  (as the upstream servers: the error goes back)
                    reply = {"error": str(e)}
            socket.send(msgpack.packb(reply, default=lambda o: _encode(o, version)))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield address, seen
    finally:
        stop.set()
        thread.join(5)
        socket.close(0)
        context.term()
