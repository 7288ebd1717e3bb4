"""GR00T over Isaac-GR00T's ZMQ inference-server protocol: the client side, a `GrootBase` whose model is a server.

    python -m bridge.groot.server --model DIR [--port 5555] [--host 127.0.0.1] [--api-token T]   # the server
    base  = groot_base_from_server(GrootSettings(server="tcp://gpu-box:5555"))   # a GrootBase over ZMQ
    chunk = base.plan(front, wrist, joint_pos_rad)   # (B, 16, 6) rad, equal to the in-process chunk

For a GR00T in its own environment or on another machine; in-process DLPack stays the fast path.
The server is bridge/groot/server.py, the wire format bridge/groot/wire.py. Both speak N1.5's
protocol (below) and N1.6/N1.7's (bridge/groot/client_n17.py: nested observation, options,
[action, info], reset); `server_version` picks one from --groot.version, the checkpoint or the server.

Protocol: Isaac-GR00T N1.5's msgpack-era `gr00t/eval/service.py` + `gr00t/eval/robot.py`, checked by
reading them and `scripts/inference_service.py` in NVIDIA/Isaac-GR00T (service.py at commit 0a015f63;
at 9ca97e11 it still used torch.save). Written from these facts, not copied:
- ZMQ REQ/REP over TCP, default port 5555, one msgpack message each way. Request {"endpoint": name,
  "data": dict (endpoints with input), "api_token": str (only when the client has one)}; no
  endpoint means get_action; the token is checked first. Reply: the result, or {"error": text}
  ("Unauthorized: Invalid API token", "Unknown endpoint: X").
- numpy arrays as {"__ndarray_class__": True, "as_npy": np.save bytes, allow_pickle=False}; a
  ModalityConfig as {"__ModalityConfig_class__": True, "as_json": {delta_indices, modality_keys}}.
- get_action: Gr00tPolicy.get_action's observation (`video.<k>` uint8 (B, 1, H, W, 3), `state.<k>`
  (B, 1, D) in LeRobot units, the language key -> B str; < 3 dims = unbatched) -> un-normalised
  `action.<k>` (B, 16, D). get_modality_config: {video, state, action, language} -> ModalityConfig.
  ping: {"status": "ok", ...}. kill: stops the server.
The older torch.save format is refused (unpickling network data runs code), with an error saying so.
Additions Isaac-GR00T peers ignore: a top-level "seed" in get_action requests (the noise seed),
"seeded_noise": True and "protocol" in our ping reply, and a get_metadata endpoint (the served embodiment's
experiment_cfg/metadata.json). With an Isaac-GR00T server set `GrootSettings.model` to the checkpoint
directory (read for its metadata.json); its noise is unseeded, so its chunks are not reproducible.
"""

import os
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before jax is imported)

import numpy as np
import torch

from bridge.groot.client_n17 import RemoteGr00tPolicy, protocol_of
from bridge.groot.contract_n17 import N17PolicyAdapter
from bridge.groot.layout import (
    METADATA_FILE, DataConfig, check_layout, check_modalities, checkpoint_version, embodiment_metadata,
    normalise_min_max, read_metadata, resolve_layout, unnormalise_min_max,
)
from bridge.groot.processor_files import N17
from bridge.groot.policy import GrootBase
from bridge.groot.wire import (
    DEFAULT_TIMEOUT_S, SERVE_HINT, GrootServerError, ModalityConfig, import_zmq, minmax_stats, pack, parse_address,
    unpack,
)
from mjx_gr00t.groot_settings import GrootSettings


def _close_zmq(context: Any, sockets: list[Any]) -> None:
    """Closes `sockets`, then `context`. A client's finalizer: it runs on `close`, at garbage collection
    or at exit, and holds the socket strongly, so the socket is never collected before the context
    (pyzmq's own clean-up terminates a context whose socket is still open, which blocks forever)."""
    while sockets:
        sockets.pop().close(linger=0)
    context.term()


class ZmqClient:
    """One REQ socket to an Isaac-GR00T-compatible server; `call` sends one request and waits for its reply.

    TimeoutError (naming the address) when no reply comes within `timeout_s`; PermissionError for a
    rejected API token; GrootServerError for any other {"error": ...} reply.
    """

    def __init__(self, address: str, timeout_s: float = DEFAULT_TIMEOUT_S, api_token: str | None = None) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s}")
        self.address, self.timeout_s, self.api_token = parse_address(address), float(timeout_s), api_token
        self._zmq = import_zmq()
        self._context = self._zmq.Context()
        self._held: list[Any] = []  # the open socket, held by the finalizer too (see _close_zmq)
        self._finalizer = weakref.finalize(self, _close_zmq, self._context, self._held)
        self._socket: Any = None
        self._open()

    def _open(self) -> None:
        """(Re)connects: a REQ socket that missed a reply cannot send again."""
        while self._held:
            self._held.pop().close(linger=0)
        zmq, ms = self._zmq, max(1, int(self.timeout_s * 1000))
        self._socket = self._context.socket(zmq.REQ)
        self._held.append(self._socket)
        for option, value in ((zmq.LINGER, 0), (zmq.SNDTIMEO, ms), (zmq.RCVTIMEO, ms)):
            self._socket.setsockopt(option, value)
        self._socket.connect(self.address)

    def call(self, endpoint: str, data: Mapping[str, Any] | None = None, seed: int | None = None) -> Any:
        """The reply of `endpoint` to `data` (None for endpoints without input); seed: see the module doc."""
        request: dict[str, Any] = {"endpoint": endpoint}
        if data is not None:
            request["data"] = dict(data)
        if self.api_token:
            request["api_token"] = self.api_token
        if seed is not None:
            request["seed"] = int(seed)
        message = pack(request)
        try:
            self._socket.send(message)
            reply = self._socket.recv()
        except self._zmq.Again:
            self._open()
            port = self.address.rsplit(":", 1)[1]
            raise TimeoutError(
                f"no reply from the GR00T server at {self.address} to {endpoint!r} within {self.timeout_s:g} s. "
                f"Is one running there? Start one with `{SERVE_HINT.format(port=port)}` (or Isaac-GR00T's "
                f"`python scripts/inference_service.py --server --port {port}`), check the address and "
                "firewall, or raise the timeout for a slow model"
            ) from None
        response = unpack(reply, f"the server at {self.address}")
        if isinstance(response, dict) and "error" in response:
            text = str(response["error"])
            if text.startswith("Unauthorized"):
                what = "rejected the API token" if self.api_token else "needs an API token"
                raise PermissionError(f"the GR00T server at {self.address} {what} ({text}): pass the token it "
                                      "was started with (serve --api-token)")
            raise GrootServerError(f"the GR00T server at {self.address} failed on {endpoint!r}: {text}")
        return response

    def ping(self) -> dict[str, Any]:
        """The server's ping reply, e.g. {"status": "ok", "message": "Server is running"}."""
        reply = self.call("ping")
        return reply if isinstance(reply, dict) else {}

    def get_modality_config(self) -> dict[str, ModalityConfig]:
        """{'video', 'state', 'action', 'language'} -> ModalityConfig of the served data config."""
        return self.call("get_modality_config")

    def kill(self) -> None:
        """Asks the server to stop (Isaac-GR00T's server replies None, this module's a status dict)."""
        self.call("kill")

    def close(self) -> None:
        """Closes the socket and its context (idempotent)."""
        self._finalizer()

    def __enter__(self) -> "ZmqClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZmqAdapter:
    """`bridge.groot.adapters.PolicyAdapter` for a model behind an Isaac-GR00T-compatible ZMQ server.

    The server takes raw observations and returns raw actions (LeRobot units), so this adapter
    un-normalises the state and normalises the returned `action.<k>` (b, 16, D) with the checkpoint's
    statistics `emb_meta`, in float64, so that a float32 value survives the round trip.
    """

    def __init__(self, client: ZmqClient, layout: DataConfig, emb_meta: Mapping[str, Any],
                 device: str | torch.device = "cpu") -> None:
        self.client, self.layout, self.device = client, layout, torch.device(device)
        self._state = minmax_stats(emb_meta, layout.state, "state", self.device)
        self._action = minmax_stats(emb_meta, layout.action, "action", self.device)
        self.seeded = bool(client.ping().get("seeded_noise", False))
        self._warned = False

    def get_action(self, batch: dict[str, Any], seed: int | None = None) -> dict[str, torch.Tensor]:
        """Normalised batch -> normalised `action.<k>` float32 (b, 16, D) on the device (see PolicyAdapter)."""
        data: dict[str, Any] = {k: torch.as_tensor(batch[k]).cpu().numpy() for k, _ in self.layout.video}
        for key, _ in self.layout.state:
            s = torch.as_tensor(batch[key]).to(self.device, torch.float64)
            data[key] = unnormalise_min_max(s, *self._state[key]).cpu().numpy()
        data[self.layout.language_key] = [str(t) for t in batch[self.layout.language_key]]
        if seed is not None and not self.seeded and not self._warned:
            self._warned = True
            warnings.warn(f"the GR00T server at {self.client.address} does not take noise seeds (Isaac-GR00T's "
                          "own server has none): its chunks are not reproducible", stacklevel=2)
        reply = self.client.call("get_action", data, seed=seed if self.seeded else None)
        if not isinstance(reply, dict):
            raise ValueError(f"the GR00T server at {self.client.address} answered get_action with {reply!r}")
        return {k: normalise_min_max(torch.as_tensor(np.asarray(reply[k]), device=self.device, dtype=torch.float64),
                                     *self._action[k]).float()
                for k, _ in self.layout.action if k in reply}  # GrootBase names missing keys and bad shapes


def _metadata(client: ZmqClient, metadata: str | None, tag: str) -> tuple[dict[str, Any], str]:
    """(metadata.json content, where from): the checkpoint directory `metadata`, else the server's get_metadata."""
    if metadata is not None:
        return read_metadata(metadata), os.path.join(metadata, METADATA_FILE)
    try:
        reply = client.call("get_metadata")
    except GrootServerError as e:
        if "Unknown endpoint" not in str(e):
            raise
        raise ValueError(
            f"the GR00T server at {client.address} does not serve normalisation statistics (Isaac-GR00T's server "
            "has no get_metadata): set the model (--groot.model) to a checkpoint directory holding its "
            f"{METADATA_FILE}") from e
    if reply.get("embodiment_tag") != tag:
        raise ValueError(f"the GR00T server at {client.address} serves embodiment {reply.get('embodiment_tag')!r}, "
                         f"these settings ask for {tag!r}: match the server's --embodiment-tag and the settings")
    return reply["metadata"], f"the server at {client.address}"


def server_version(settings: GrootSettings, client: ZmqClient) -> str:
    """The contract to speak: --groot.version, else a local --groot.model's files, else the server's
    (`bridge.groot.client_n17.protocol_of`); a local checkpoint and a server that disagree are a ValueError."""
    local = settings.model is not None and os.path.isdir(settings.model)
    found = checkpoint_version(settings.model) if local else None
    version = settings.version if settings.version != "auto" else found or protocol_of(client)
    if found is not None and found != version:
        raise ValueError(f"--groot.version {version} but {settings.model!r} is a GR00T {found} checkpoint")
    return version


def _n17_base(settings: GrootSettings, layout: DataConfig, client: ZmqClient) -> GrootBase:
    """A GrootBase over an N1.6/N1.7 server: the server normalises, so statistics are only checked
    (when --groot.model names the checkpoint) and the keys come from its get_modality_config."""
    policy = RemoteGr00tPolicy(client)
    check_modalities(layout, policy.get_modality_config(), client.address, groups=True)
    emb: dict[str, Any] = {}
    if settings.model is not None and os.path.isdir(settings.model):
        where = f"the metadata of {settings.model!r}"
        emb = embodiment_metadata(read_metadata(settings.model), settings.embodiment_tag, where)
        check_layout(layout, emb, where)
    return GrootBase(N17PolicyAdapter(policy, layout, settings.device), layout, emb, settings)


def groot_base_from_server(settings: GrootSettings, api_token: str | None = None) -> GrootBase:
    """A GrootBase whose model runs behind the server at `settings.server` ('tcp://HOST:PORT').

    settings.model: None (ask the server: `python -m bridge.groot.server` has get_metadata), or the
    checkpoint's directory, holding experiment_cfg/metadata.json (needed for an Isaac-GR00T server).
    The keys are checked against the statistics and the server's get_modality_config. The server owns
    the model's device and denoising steps (`server --device/--denoising-steps`); settings.device is
    where the base's tensors live; settings.timeout bounds each reply (s). api_token: the server's
    token, if it wants one (keep it out of the settings: they are saved).
    """
    if not settings.server:
        raise ValueError("settings.server must be the GR00T server's address, tcp://HOST:PORT; got None")
    layout = resolve_layout(settings.data_config, settings.key_map)
    client = ZmqClient(settings.server, settings.timeout, api_token)
    try:
        version = server_version(settings, client)
        if version == N17:
            return _n17_base(settings, layout, client)
        meta, where = _metadata(client, settings.model, settings.embodiment_tag)
        emb = embodiment_metadata(meta, settings.embodiment_tag, where)
        check_layout(layout, emb, where)
        check_modalities(layout, client.get_modality_config(), client.address)
        adapter = ZmqAdapter(client, layout, emb, settings.device)
        return GrootBase(adapter, layout, emb, settings)
    except BaseException:
        client.close()
        raise
