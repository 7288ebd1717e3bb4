"""bridge.groot.client and bridge.groot.server against a real server subprocess serving the tiny model:
the chunk over ZMQ equals the in-process one, the Isaac-GR00T-style raw get_action, ping, modality
config, tokens, timeouts, kill; and the server's CLI."""

import gc
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import numpy as np
import pytest
import torch

pytest.importorskip("zmq", reason="the ZMQ transport needs pyzmq (pip install pyzmq==27.3.0)")

from bridge import tiny  # noqa: E402
from bridge.groot.client import ZmqClient, groot_base_from_server  # noqa: E402
from bridge.groot.policy import GrootBase  # noqa: E402
from bridge.groot.server import PolicyServer, main  # noqa: E402
from bridge.groot.wire import GrootServerError  # noqa: E402
from mjx_gr00t.groot_settings import GrootSettings  # noqa: E402

from groot_samples import random_obs, serve_tiny  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOKEN = "s3cret"
ZMQ_TOL = 0.0
"""rad: exact. The state and action cross the wire in raw units as float64, so float32 values come back
bit-equal (both processes run torch on one CPU thread, so the model computes the same bits)."""
B = 3


@pytest.fixture(scope="module")
def server(tiny_dir: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """(process, address) of `python -m bridge.groot.server` on a free port; always stopped afterwards."""
    with serve_tiny(tiny_dir, TOKEN) as proc_address:
        yield proc_address


@pytest.fixture(scope="module")
def client(server: tuple[subprocess.Popen, str]) -> Iterator[ZmqClient]:
    with ZmqClient(server[1], timeout_s=60.0, api_token=TOKEN) as c:
        yield c


def _remote(address: str, api_token: str | None = TOKEN, **settings: object) -> GrootBase:
    return groot_base_from_server(GrootSettings(server=address, timeout=60.0, **settings), api_token=api_token)


def _obs(seed: int = 0, n: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, n)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Offline: the server's CLI, the client without a server


def test_server_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "python -m bridge.groot.server" in text
    for flag in ("--model", "--host", "--port", "--api-token", "--data-config", "--key-map", "--embodiment-tag",
                 "--denoising-steps", "--device", "--max-batch", "--torch-threads"):
        assert flag in text
    assert "5555" in text and "0.0.0.0" in text and "GROOT_API_TOKEN" in text


def test_missing_pyzmq_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zmq", None)  # makes `import zmq` raise ImportError
    with pytest.raises(ImportError, match=r"needs pyzmq.*pip install pyzmq=="):
        ZmqClient("tcp://127.0.0.1:5555")


def test_server_errors_say_what_to_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "/nonexistent/ckpt"])
    assert exit_info.value.code == 2 and "/nonexistent/ckpt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "/nonexistent/ckpt", "--torch-threads", "-1"])
    assert exit_info.value.code == 2 and "--torch-threads must be >= 0" in capsys.readouterr().err


def test_dead_address_times_out_naming_it() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with ZmqClient(address, timeout_s=0.5) as c:
        with pytest.raises(TimeoutError, match=rf"{address}.*python -m bridge\.groot\.server --model"):
            c.ping()
        with pytest.raises(TimeoutError, match=address):  # the socket was reset: it can ask again
            c.ping()
    with pytest.raises(ValueError, match="settings.server must be"):
        groot_base_from_server(GrootSettings())


def test_unclosed_client_in_a_reference_cycle_never_blocks_collection() -> None:
    """pyzmq terminates a collected context even while its socket is open, which blocks forever (a
    failing test's traceback makes such cycles, and then pytest never exits)."""
    c = ZmqClient(f"tcp://127.0.0.1:{_free_port()}", timeout_s=0.2)
    c.cycle = c  # type: ignore[attr-defined]
    del c
    collector = threading.Thread(target=gc.collect, daemon=True)
    collector.start()
    collector.join(timeout=60)
    assert not collector.is_alive(), "gc.collect() blocked on a ZmqClient's context"


# ---------------------------------------------------------------------------------------------
# Against the server subprocess (the kill test runs last)


def test_ping_and_modality_config(client: ZmqClient) -> None:
    reply = client.ping()
    assert reply["status"] == "ok" and reply["seeded_noise"] is True
    mods = client.get_modality_config()
    assert set(mods) == {"video", "state", "action", "language"}
    assert set(mods["video"].modality_keys) == {"video.front", "video.wrist"}
    assert mods["state"].modality_keys == ("state.single_arm", "state.gripper")
    assert mods["action"].modality_keys == ("action.single_arm", "action.gripper")
    assert mods["action"].delta_indices == tuple(range(16))
    assert mods["language"].modality_keys == ("annotation.human.task_description",)


def test_chunk_over_zmq_equals_in_process(server: tuple[subprocess.Popen, str], tiny_dir: str) -> None:
    local = GrootBase.from_pretrained(GrootSettings(model=tiny_dir, max_batch=2))
    remote = _remote(server[1], max_batch=2)
    front, wrist, q = _obs()
    for seed in (None, 1234):
        want, got = local.plan(front, wrist, q, seed=seed), remote.plan(front, wrist, q, seed=seed)
        assert got.shape == (B, 16, 6) and got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=ZMQ_TOL, rtol=0)
    assert (remote.plan(front, wrist, q, seed=1) - remote.plan(front, wrist, q, seed=2)).abs().max() > 1e-4
    # A local checkpoint for its metadata (what an Isaac-GR00T server needs) gives the same base.
    from_dir = _remote(server[1], model=tiny_dir, max_batch=2)
    torch.testing.assert_close(from_dir.plan(front, wrist, q), local.plan(front, wrist, q), atol=ZMQ_TOL, rtol=0)
    for base in (remote, from_dir):
        base.adapter.client.close()


def test_raw_get_action_as_an_isaac_gr00t_client_sends_it(client: ZmqClient, tiny_dir: str) -> None:
    """Gr00tPolicy.get_action's contract: raw LeRobot-unit state in, un-normalised action out; unbatched too."""
    policy = tiny.TinyGr00tPolicy.from_pretrained(tiny_dir)
    front, wrist, q = _obs(seed=3)
    deg = np.degrees(q.astype(np.float64))
    obs = {"video.front": front[:, None], "video.wrist": wrist[:, None], "state.single_arm": deg[:, None, :5],
           "state.gripper": np.full((B, 1, 1), 30.0), "annotation.human.task_description": ["pick it up"] * B}
    want, got = policy.get_action(obs), client.call("get_action", obs)
    assert set(got) == {"action.single_arm", "action.gripper"} and got["action.single_arm"].shape == (B, 16, 5)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-3, rtol=1e-5)  # float32 in the policy vs float64
    one = client.call("get_action", {k: v[0] for k, v in obs.items()})  # (1, H, W, 3), (1, D), str
    assert one["action.gripper"].shape == (16, 1)
    np.testing.assert_allclose(one["action.gripper"], got["action.gripper"][0], atol=1e-4, rtol=0)  # batch 1 vs 3


def test_errors_are_clear(server: tuple[subprocess.Popen, str], client: ZmqClient, tiny_dir: str) -> None:
    for token in ("wrong", None):
        with ZmqClient(server[1], timeout_s=60.0, api_token=token) as c:
            with pytest.raises(PermissionError, match=r"(rejected the|needs an) API token.*--api-token"):
                c.ping()
    with pytest.raises(PermissionError, match="API token"):
        _remote(server[1], api_token="wrong")
    with pytest.raises(GrootServerError, match="Unknown endpoint: nope"):
        client.call("nope")
    with pytest.raises(GrootServerError, match=r"observation lacks \['video.front'"):
        client.call("get_action", {"state.single_arm": np.zeros((1, 1, 5))})
    with pytest.raises(ValueError, match=r"'so100'.*video\.webcam"):
        _remote(server[1], model=tiny_dir, data_config="so100")
    with pytest.raises(ValueError, match="serves embodiment 'new_embodiment'.*'gr1'"):
        _remote(server[1], embodiment_tag="gr1")
    busy = int(server[1].rsplit(":", 1)[1])
    with pytest.raises(OSError, match=rf"cannot listen on tcp://127.0.0.1:{busy}.*--port"):
        PolicyServer(GrootBase.from_pretrained(GrootSettings(model=tiny_dir)), port=busy)
    assert client.ping()["status"] == "ok"  # errors never take the server down


def test_kill_stops_the_server(server: tuple[subprocess.Popen, str], client: ZmqClient) -> None:
    proc, address = server
    client.kill()
    assert proc.wait(timeout=60) == 0
    with ZmqClient(address, timeout_s=0.5, api_token=TOKEN) as c, pytest.raises(TimeoutError, match=address):
        c.ping()
