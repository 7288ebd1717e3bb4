"""bridge.groot_zmq against a real server subprocess serving the tiny model: the chunk over ZMQ equals
the in-process one, the Isaac-GR00T-style raw get_action, ping, modality config, tokens, timeouts, kill."""

import gc
import io
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import msgpack
import numpy as np
import pytest
import torch

pytest.importorskip("zmq", reason="the ZMQ transport needs pyzmq (pip install pyzmq==27.3.0)")

from bridge import tiny  # noqa: E402
from bridge.groot import SO101_JOINT_RANGES, GrootBase, GrootConfig  # noqa: E402
from bridge.groot_zmq import (  # noqa: E402
    GrootServerError, ModalityConfig, PolicyServer, ZmqClient, groot_base_from_server, main, pack, parse_address,
    unpack,
)

from groot_samples import random_obs  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOKEN = "s3cret"
ZMQ_TOL = 0.0
"""rad: exact. The state and action cross the wire in raw units as float64, so float32 values come back
bit-equal (both processes run torch on one CPU thread, so the model computes the same bits)."""
STARTUP_S = 240.0
"""The server imports torch and JAX; on a loaded 2-core machine that alone can take a minute."""
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = 3
RANGES = np.asarray(SO101_JOINT_RANGES)


@pytest.fixture(scope="module")
def server(tiny_dir: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """(process, address) of `python -m bridge.groot_zmq serve` on a free port; always stopped afterwards."""
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.groot_zmq", "serve", "--model", tiny_dir, "--port", "0",
         "--api-token", TOKEN, "--torch-threads", "1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # drains the pipe for the server's whole life; None marks its end
        for text in proc.stdout:
            lines.put(text)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        seen: list[str] = []
        while True:
            try:
                line = lines.get(timeout=STARTUP_S)
            except queue.Empty:
                pytest.fail(f"the server did not start within {STARTUP_S:g} s; it printed {''.join(seen)}")
            if line is None:
                pytest.fail(f"the server exited with {proc.wait()} before listening: {''.join(seen)}")
            seen.append(line)
            if "listening on " in line:
                address = line.rsplit("listening on ", 1)[1].strip()
                break
        yield proc, address
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()


@pytest.fixture(scope="module")
def client(server: tuple[subprocess.Popen, str]) -> Iterator[ZmqClient]:
    with ZmqClient(server[1], timeout_s=60.0, api_token=TOKEN) as c:
        yield c


def _obs(seed: int = 0, n: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, n)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Offline: the wire format and the CLI


def test_wire_format_is_isaac_gr00t_msgpack() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = msgpack.unpackb(pack({"x": a, "m": ModalityConfig((0,), ("video.front",))}))
    assert raw["x"]["__ndarray_class__"] is True
    np.testing.assert_array_equal(np.load(io.BytesIO(raw["x"]["as_npy"]), allow_pickle=False), a)
    assert raw["m"]["__ModalityConfig_class__"] is True and '"modality_keys": ["video.front"]' in raw["m"]["as_json"]
    back = unpack(pack({"x": a, "t": torch.ones(2), "s": ["a", "b"], "m": ModalityConfig((0, 1), ("k",))}), "test")
    assert back["x"].dtype == np.float32 and np.array_equal(back["x"], a) and np.array_equal(back["t"], np.ones(2))
    assert back["s"] == ["a", "b"] and back["m"] == ModalityConfig((0, 1), ("k",))
    buf = io.BytesIO()
    torch.save({"endpoint": "ping"}, buf)  # the older Isaac-GR00T serialisation
    with pytest.raises(ValueError, match="torch.save-based"):
        unpack(buf.getvalue(), "the server at tcp://x:1")


def test_address_parsing() -> None:
    assert parse_address("tcp://gpu-box:6000") == "tcp://gpu-box:6000"
    assert parse_address("gpu-box") == "tcp://gpu-box:5555"
    assert parse_address("10.0.0.2:5556") == "tcp://10.0.0.2:5556"
    for bad in ("http://x:1", "x:port", "x:70000", ":5555"):
        with pytest.raises(ValueError, match="tcp://"):
            parse_address(bad)


def test_serve_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--model", "--host", "--port", "--api-token", "--data-config", "--key-map", "--embodiment-tag",
                 "--denoising-steps", "--device", "--torch-threads"):
        assert flag in text
    assert "5555" in text and "0.0.0.0" in text


def test_missing_pyzmq_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zmq", None)  # makes `import zmq` raise ImportError
    with pytest.raises(ImportError, match=r"needs pyzmq.*pip install pyzmq=="):
        ZmqClient("tcp://127.0.0.1:5555")


def test_serve_errors_say_what_to_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model", "/nonexistent/ckpt"])
    assert exit_info.value.code == 2 and "/nonexistent/ckpt" in capsys.readouterr().err


def test_dead_address_times_out_naming_it() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with ZmqClient(address, timeout_s=0.5) as c:
        with pytest.raises(TimeoutError, match=rf"{address}.*bridge\.groot_zmq serve"):
            c.ping()
        with pytest.raises(TimeoutError, match=address):  # the socket was reset: it can ask again
            c.ping()


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
    local = GrootBase.from_pretrained(tiny_dir, max_batch=2)
    remote = groot_base_from_server(server[1], GrootConfig(max_batch=2), api_token=TOKEN, timeout_s=60.0)
    front, wrist, q = _obs()
    for seed in (None, 1234):
        want, got = local.plan(front, wrist, q, seed=seed), remote.plan(front, wrist, q, seed=seed)
        assert got.shape == (B, 16, 6) and got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=ZMQ_TOL, rtol=0)
    assert (remote.plan(front, wrist, q, seed=1) - remote.plan(front, wrist, q, seed=2)).abs().max() > 1e-4
    # A local metadata path (what an Isaac-GR00T server needs) gives the same base.
    from_dir = groot_base_from_server(server[1], GrootConfig(max_batch=2), metadata=tiny_dir, api_token=TOKEN,
                                      timeout_s=60.0)
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
        groot_base_from_server(server[1], GrootConfig(), api_token="wrong", timeout_s=60.0)
    with pytest.raises(GrootServerError, match="Unknown endpoint: nope"):
        client.call("nope")
    with pytest.raises(GrootServerError, match=r"observation lacks \['video.front'"):
        client.call("get_action", {"state.single_arm": np.zeros((1, 1, 5))})
    with pytest.raises(ValueError, match=r"'so100'.*video\.webcam"):
        groot_base_from_server(server[1], GrootConfig(data_config="so100"), metadata=tiny_dir,
                               api_token=TOKEN, timeout_s=60.0)
    with pytest.raises(ValueError, match="serves embodiment 'new_embodiment'.*'gr1'"):
        groot_base_from_server(server[1], GrootConfig(embodiment_tag="gr1"), api_token=TOKEN, timeout_s=60.0)
    busy = int(server[1].rsplit(":", 1)[1])
    with pytest.raises(OSError, match=rf"cannot listen on tcp://127.0.0.1:{busy}.*--port"):
        PolicyServer(GrootBase.from_pretrained(tiny_dir), port=busy)
    assert client.ping()["status"] == "ok"  # errors never take the server down


@pytest.mark.slow
def test_trainer_over_the_server_trains_as_in_process(server: tuple[subprocess.Popen, str], tiny_dir: str,
                                                      tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`train.residual_ppo --base groot --groot-server ADDR` (token from $GROOT_API_TOKEN) logs the same
    losses and returns as the same run with the model in-process (--groot-model)."""
    from train import residual_ppo
    from train.metrics_log import read_metrics

    monkeypatch.setenv("GROOT_API_TOKEN", TOKEN)
    flags = ["--base", "groot", "--num-envs", "2", "--unroll-length", "4", "--num-minibatches", "2",
             "--update-epochs", "1", "--hidden", "16", "--total-steps", "16", "--engine", "c",
             "--wandb", "disabled", "--eval-episodes", "0", "--groot-timeout", "120"]
    residual_ppo.main([*flags, "--groot-model", tiny_dir, "--out", str(tmp_path / "local")])
    residual_ppo.main([*flags, "--groot-server", server[1], "--out", str(tmp_path / "served")])
    local, served = (read_metrics(str(tmp_path / d / "metrics.jsonl")) for d in ("local", "served"))
    assert len(local) == len(served) == 2
    for a, b in zip(local, served):
        assert b["groot/queries"] >= 1
        for key in a:
            if not key.startswith(("time/", "groot/")):
                assert a[key] == b[key], key



def test_kill_stops_the_server(server: tuple[subprocess.Popen, str], client: ZmqClient) -> None:
    proc, address = server
    client.kill()
    assert proc.wait(timeout=60) == 0
    with ZmqClient(address, timeout_s=0.5, api_token=TOKEN) as c, pytest.raises(TimeoutError, match=address):
        c.ping()
