"""Serves a GR00T checkpoint (bridge.tiny, a real GR00T N1.5 or N1.6/N1.7) over Isaac-GR00T's ZMQ protocol.

    python -m bridge.groot.server --model DIR [--port 5555] [--host 127.0.0.1] [--api-token T]   # -h: every flag
    server = PolicyServer(GrootBase.from_pretrained(GrootSettings(model=DIR)), port=0); server.serve_forever()

The protocol is the checkpoint's: N1.5's (get_action on flat keys -> action dict,
get_modality_config, ping, kill, and get_metadata, ours; facts in bridge/groot/client.py) or
N1.6/N1.7's (get_action {observation, options} -> [action, info], reset, get_modality_config,
ping, kill; bridge/groot/client_n17.py). Arrays go out in the `arrays` form (bridge/groot/wire.py:
npy, or the GA release's msgpack_numpy); requests in either form are read.
"""

import argparse
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from bridge.groot.layout import DATA_CONFIGS, DEFAULT_DENOISING_STEPS, KEY_MAPS, normalise_min_max, unnormalise_min_max
from bridge.groot.policy import GrootBase
from bridge.groot.contract_n17 import N17PolicyAdapter
from bridge.groot.processor_files import N15, N17, VERSIONS
from bridge.groot.wire import (
    ARRAY_FORMS, DEFAULT_PORT, UNAUTHORIZED, ModalityConfig, import_zmq, minmax_stats, pack, unpack,
)
from mjx_gr00t.groot_settings import GrootSettings

_DEFAULTS = GrootSettings()

def _data(request: dict[str, Any], *names: str) -> dict[str, Any]:
    """The keyword arguments an N1.7 handler is called with: request["data"], only `names`, each defaulting
    to None (TypeError naming an unknown one, as Python's call would)."""
    data = request.get("data") or {}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise TypeError(f"unexpected arguments {unknown}; this endpoint takes {list(names)}")
    return {n: data.get(n) for n in names}


class PolicyServer:
    """Serves a GrootBase's checkpoint (loaded as `GrootBase.from_pretrained` does) over the protocol.

    port 0 binds any free port; `address` is the bound 'tcp://HOST:PORT'.
    """

    def __init__(self, base: GrootBase, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 api_token: str | None = None, arrays: str = "npy") -> None:
        if arrays not in ARRAY_FORMS:
            raise ValueError(f"arrays must be one of {ARRAY_FORMS}, got {arrays!r}")
        zmq = import_zmq()
        self.base, self.layout, self.api_token, self.running, self.arrays = base, base.layout, api_token, True, arrays
        self.protocol = N17 if isinstance(base.adapter, N17PolicyAdapter) else N15
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.REP)
        self._socket.setsockopt(zmq.LINGER, 0)
        try:
            self._socket.bind(f"tcp://{host}:{port or '*'}")
        except zmq.ZMQError as e:
            self.close()
            raise OSError(f"cannot listen on tcp://{host}:{port}: {e}. Is another server using that port? "
                          "Pick another --port (0: any free one) or --host") from e
        self.address: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        ping = {"status": "ok", "message": "Server is running", "seeded_noise": True, "protocol": self.protocol}
        self.endpoints: dict[str, Callable[[dict[str, Any]], Any]] = {
            "ping": lambda _: ping, "kill": self._kill}
        if self.protocol == N17:
            policy = base.adapter.policy
            self.endpoints.update({
                "get_action": lambda r: list(policy.get_action(**_data(r, "observation", "options"))),
                "reset": lambda r: policy.reset(**_data(r, "options")),
                "get_modality_config": lambda _: policy.get_modality_config()})
            return
        self._state = minmax_stats(base.emb_meta, self.layout.state, "state", base.device)
        self._action = minmax_stats(base.emb_meta, self.layout.action, "action", base.device)
        self.endpoints.update({
            "get_action": self._get_action, "get_modality_config": lambda _: self._modality_config(),
            "get_metadata": lambda _: {"embodiment_tag": base.settings.embodiment_tag,
                                       "metadata": {base.settings.embodiment_tag: base.emb_meta}}})

    def _kill(self, _: dict[str, Any]) -> dict[str, str]:
        self.running = False
        return {"status": "ok", "message": "Server is shutting down"}

    def _modality_config(self) -> dict[str, ModalityConfig]:
        layout = self.layout
        return {"video": ModalityConfig((0,), tuple(k for k, _ in layout.video)),
                "state": ModalityConfig((0,), tuple(k for k, _ in layout.state)),
                "action": ModalityConfig(tuple(range(layout.action_horizon)), tuple(k for k, _ in layout.action)),
                "language": ModalityConfig((0,), (layout.language_key,))}

    def _get_action(self, request: dict[str, Any]) -> dict[str, np.ndarray]:
        """Raw observation (see the module doc) -> un-normalised `action.<k>` float64 (B, 16, D)."""
        data, layout, dev = request.get("data") or {}, self.layout, self.base.device
        needed = [*(k for k, _ in layout.video), *(k for k, _ in layout.state), layout.language_key]
        missing = [k for k in needed if k not in data]
        if missing:
            raise KeyError(f"observation lacks {missing}; this server takes {needed}")
        unbatched = any(np.ndim(data[k]) < 3 for k, _ in layout.state)
        batch: dict[str, Any] = {}
        for key, _ in layout.video:
            v = np.asarray(data[key])
            if v.dtype != np.uint8:
                raise TypeError(f"{key} must be uint8 images, got {v.dtype}")
            batch[key] = torch.from_numpy(v[None] if unbatched else v).to(dev)
        for key, n in layout.state:
            s = torch.as_tensor(np.asarray(data[key], np.float64), device=dev)
            s = s[None] if unbatched else s
            if s.ndim != 3 or s.shape[-1] != n:
                raise ValueError(f"{key} must have shape (B, 1, {n}), got {tuple(s.shape)}")
            batch[key] = normalise_min_max(s, *self._state[key]).float()
        text = data[layout.language_key]
        batch[layout.language_key] = [text] if isinstance(text, str) else [str(t) for t in text]
        seed = request.get("seed")
        with torch.inference_mode():
            adapter = self.base.adapter
            out = adapter.get_action(batch) if seed is None else adapter.get_action(batch, seed=int(seed))
            result = {k: unnormalise_min_max(out[k].double(), *self._action[k]).cpu().numpy() for k, _ in layout.action}
        return {k: v[0] for k, v in result.items()} if unbatched else result

    def handle(self, request: Any) -> Any:
        """The reply to one decoded request (errors become {"error": text}, as in Isaac-GR00T)."""
        if not isinstance(request, dict):
            return {"error": "a request must be a map {'endpoint': ..., 'data': ...}"}
        if self.api_token is not None and request.get("api_token") != self.api_token:
            return {"error": UNAUTHORIZED}
        endpoint = request.get("endpoint", "get_action")
        if endpoint not in self.endpoints:
            return {"error": f"Unknown endpoint: {endpoint}"}
        try:
            return self.endpoints[endpoint](request)
        except Exception as e:  # noqa: BLE001  (any failure goes back to the client, the server keeps serving)
            traceback.print_exc()
            return {"error": f"{type(e).__name__}: {e}"}

    def serve_forever(self, poll_ms: int = 200) -> None:
        """Answers requests until kill (or `running` is set False); then closes the socket."""
        print(f"GR00T ZMQ server listening on {self.address}", flush=True)
        try:
            while self.running:
                if not self._socket.poll(poll_ms):
                    continue
                message = self._socket.recv()
                try:
                    reply = pack(self.handle(unpack(message, "the client")), self.arrays)
                except (ValueError, TypeError) as e:
                    reply = pack({"error": str(e)}, self.arrays)
                self._socket.send(reply)
        finally:
            self.close()

    def close(self) -> None:
        if not self._context.closed:
            self._context.destroy(linger=0)


def parser() -> argparse.ArgumentParser:
    """The CLI of `python -m bridge.groot.server`."""
    p = argparse.ArgumentParser(
        prog="python -m bridge.groot.server", description="Serve a GR00T checkpoint with Isaac-GR00T's ZMQ protocol "
        "(N1.5: get_action, get_modality_config, ping, kill, get_metadata; N1.6/N1.7: get_action, reset, "
        "get_modality_config, ping, kill), for trainers with --groot.server "
        "tcp://HOST:PORT or any Isaac-GR00T client; prints 'GR00T ZMQ server listening on tcp://HOST:PORT' once "
        "ready. Stop it with kill, Ctrl-C or SIGTERM.")
    p.add_argument("--model", required=True, help="checkpoint: a bridge.tiny directory (python -m bridge.tiny "
                   "--out DIR [--contract n1.7]), or a GR00T N1.5 / N1.6 / N1.7 directory or Hugging Face id (needs "
                   "the gr00t package)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on: 127.0.0.1 (this machine only, "
                   "the default), or '*' / 0.0.0.0 for other machines (Isaac-GR00T's server binds '*')")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}, "
                   "Isaac-GR00T's); 0 picks a free one and prints it")
    p.add_argument("--api-token", default=None, help="answer only requests carrying this api_token "
                   "(default: no token needed; clients pass it in $GROOT_API_TOKEN)")
    p.add_argument("--data-config", default=_DEFAULTS.data_config, choices=sorted(DATA_CONFIGS),
                   help=f"the GR00T data config: camera, state and action keys (default {_DEFAULTS.data_config})")
    p.add_argument("--key-map", default=None, choices=sorted(KEY_MAPS),
                   help="key map for fine-tunes with other keys, e.g. cam01_arm0 (default: none)")
    p.add_argument("--embodiment-tag", default=_DEFAULTS.embodiment_tag, help="embodiment in the checkpoint's "
                   f"experiment_cfg/metadata.json (default {_DEFAULTS.embodiment_tag})")
    p.add_argument("--denoising-steps", type=int, default=DEFAULT_DENOISING_STEPS,
                   help=f"flow-matching Euler steps per query (default {DEFAULT_DENOISING_STEPS})")
    p.add_argument("--device", default=_DEFAULTS.device, help="torch device of the model: cpu, cuda or cuda:N "
                   f"(default {_DEFAULTS.device})")
    p.add_argument("--max-batch", type=int, default=_DEFAULTS.max_batch, help="largest sub-batch given to the "
                   f"model at once (memory; default {_DEFAULTS.max_batch})")
    p.add_argument("--torch-threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--version", default="auto", choices=("auto", *VERSIONS), help="GR00T contract to serve: auto "
                   "(the checkpoint's: N1.5's experiment_cfg/metadata.json, or N1.6/N1.7's processor files), or "
                   "name it to have a mismatch refused (default auto)")
    p.add_argument("--arrays", default="npy", choices=ARRAY_FORMS, help="array encoding of replies: npy (N1.5 and "
                   "early N1.6 clients) or msgpack_numpy (the GA N1.7 release's); requests in either are read "
                   "(default npy)")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bridge.groot.server --model DIR ...`: loads the checkpoint and serves it until killed."""
    cli = parser()
    args = cli.parse_args(argv)
    try:
        settings = GrootSettings(model=args.model, data_config=args.data_config, key_map=args.key_map,
                                 embodiment_tag=args.embodiment_tag, max_batch=args.max_batch, device=args.device,
                                 torch_threads=args.torch_threads, version=args.version)
        if args.torch_threads < 0:
            raise ValueError(f"--torch-threads must be >= 0, got {args.torch_threads}")
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        base = GrootBase.from_pretrained(settings, denoising_steps=args.denoising_steps)
        server = PolicyServer(base, args.host, args.port, args.api_token, args.arrays)
    except (FileNotFoundError, ValueError, ImportError, OSError) as e:
        cli.exit(2, f"{cli.prog}: error: {e}\n")
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "running", False))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
