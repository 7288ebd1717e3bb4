"""GR00T N1.6/N1.7's inference-server protocol, client side: a remote policy with `Gr00tPolicy`'s methods.

    policy = RemoteGr00tPolicy(ZmqClient("tcp://gpu-box:5555"))
    action, info = policy.get_action(observation, options)   # bridge.groot.contract_n17's nested contract
    policy.reset(); policy.get_modality_config()

The protocol (facts: ../shared/reference/gr00t_n17.md; Isaac-GR00T's `gr00t/policy/server_client.py`
and `gr00t/eval/run_gr00t_server.py`): ZMQ REQ/REP, msgpack {"endpoint", "data", "api_token"?}, the
server calling the endpoint's handler with `data` as keyword arguments:
- get_action {observation, options} -> [action, info];  reset {options} -> {};
- get_modality_config -> {modality: ModalityConfig};  ping -> {"status": "ok", ...};  kill;
- errors {"error": text}. Arrays in the early npy form or the GA release's msgpack-numpy form
  (bridge/groot/wire.py reads both; requests go in the npy form, which both releases accept).
`protocol_of(client)` tells an N1.5 server from an N1.7 one: our ping names it; otherwise an N1.7
server answers `reset` (stateless for Gr00tPolicy) and an N1.5 one has no such endpoint.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bridge.groot.processor_files import N15, N17
from bridge.groot.wire import GrootServerError


class RemoteGr00tPolicy:
    """An N1.7 policy behind a server; `client` is a `bridge.groot.client.ZmqClient`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.seeded_noise = bool(client.ping().get("seeded_noise", False))

    def get_action(self, observation: Mapping[str, Any],
                   options: Mapping[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        reply = self.client.call("get_action", {"observation": dict(observation), "options": options})
        if not (isinstance(reply, Sequence) and len(reply) == 2 and isinstance(reply[0], Mapping)):
            raise ValueError(f"the GR00T server at {self.client.address} answered get_action with "
                             f"{type(reply).__name__}, not [action, info]: is it an N1.5 server? (--groot.version)")
        return dict(reply[0]), dict(reply[1] or {})

    def reset(self, options: Mapping[str, Any] | None = None) -> Any:
        return self.client.call("reset", {"options": options})

    def get_modality_config(self) -> Any:
        return self.client.call("get_modality_config")


def protocol_of(client: Any) -> str:
    """'n1.5' or 'n1.7': what the server at `client` speaks (module docstring)."""
    said = client.ping().get("protocol")
    if said in (N15, N17):
        return said
    try:
        client.call("reset", {"options": None})
    except GrootServerError as e:
        if "Unknown endpoint" in str(e):
            return N15
        raise
    return N17
