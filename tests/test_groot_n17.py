"""GR00T N1.6/N1.7 beside N1.5: the checkpoint layout, relative actions, the nested policy contract,
version selection, and the N1.7 server protocol (our server, and a stand-in of each upstream one)."""

import json
import os
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest
import torch

pytest.importorskip("zmq")

from bridge import tiny_checkpoint  # noqa: E402
from bridge.groot.adapters import TinyAdapter  # noqa: E402
from bridge.groot.client import ZmqClient, groot_base_from_server  # noqa: E402
from bridge.groot.client_n17 import protocol_of  # noqa: E402
from bridge.groot.contract_n17 import N17PolicyAdapter  # noqa: E402
from bridge.groot.layout import (  # noqa: E402
    checkpoint_version, embodiment_metadata, metadata_sha256, min_max, read_metadata, resolve_layout,
)
from bridge.groot.normaliser import Normaliser  # noqa: E402
from bridge.groot.policy import GrootBase, resolve_version  # noqa: E402
from bridge.tiny_n17 import TinyGr00tPolicyN17  # noqa: E402
from groot_samples import random_obs, serve_tiny, to_lerobot, to_sim  # noqa: E402
from groot_standins import ARM_STEP_DEG, GRIPPER, HORIZON, standin_server  # noqa: E402
from mjx_gr00t.groot_settings import GrootSettings  # noqa: E402

LAYOUT = resolve_layout("so100_dualcam")
B = 3


@pytest.fixture(scope="module")
def n17_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return tiny_checkpoint.write_checkpoint(str(tmp_path_factory.mktemp("tiny_n17")), seed=0, contract="n1.7")


def _emb(n17_dir: str) -> dict:
    return embodiment_metadata(read_metadata(n17_dir), "new_embodiment")


# ---------------------------------------------------------------------------------------------
# The checkpoint layout and its normalisation

def test_the_n17_layout_is_read_into_the_bridge_record(n17_dir: str) -> None:
    assert sorted(os.listdir(n17_dir)) == ["config.json", "embodiment_id.json", "model.safetensors",
                                           "processor_config.json", "statistics.json"]
    assert checkpoint_version(n17_dir) == "n1.7"
    emb = _emb(n17_dir)
    norm = emb["normalisation"]
    assert norm["relative"] == {"single_arm": "single_arm"} and norm["percentiles"] and norm["clip"]
    assert norm["embodiment_id"] == 31 and norm["action_horizon"] == 16
    stats = json.load(open(os.path.join(n17_dir, "statistics.json")))["new_embodiment"]
    lo, hi = min_max(emb, LAYOUT.action, "action")  # relative arm: relative_action q01/q99; gripper: action's
    np.testing.assert_array_equal(lo, stats["relative_action"]["single_arm"]["q01"] + stats["action"]["gripper"]["q01"])
    np.testing.assert_array_equal(hi, stats["relative_action"]["single_arm"]["q99"] + stats["action"]["gripper"]["q99"])
    # The same files under processor/ are found too; the fingerprint covers what fixes normalisation.
    sha = metadata_sha256(n17_dir)
    assert sha is not None and len(sha) == 64


def test_processor_files_under_processor_and_missing_pieces(n17_dir: str, tmp_path: os.PathLike) -> None:
    moved = str(tmp_path / "ckpt")
    os.makedirs(os.path.join(moved, "processor"))
    for name in os.listdir(n17_dir):
        target = os.path.join(moved, "processor" if name.endswith("_id.json") or name in (
            "processor_config.json", "statistics.json") else "", name)
        with open(os.path.join(n17_dir, name), "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
    assert checkpoint_version(moved) == "n1.7" and _emb(moved)["normalisation"]["relative"]
    os.remove(os.path.join(moved, "processor", "embodiment_id.json"))
    with pytest.raises(FileNotFoundError, match="embodiment_id.json"):
        read_metadata(moved)
    with pytest.raises(FileNotFoundError, match="neither .*metadata.json.*processor_config.json"):
        checkpoint_version(str(tmp_path))


def test_units_or_keys_that_do_not_match_are_one_clear_line(n17_dir: str, tmp_path: os.PathLike) -> None:
    bad = tiny_checkpoint.write_checkpoint(str(tmp_path / "bad"), contract="n1.7")
    path = os.path.join(bad, "processor_config.json")
    cfg = json.load(open(path))
    mods = cfg["processor_kwargs"]["modality_configs"]["new_embodiment"]
    mods["language"]["modality_keys"] = ["annotation.human.action.task_description"]
    json.dump(cfg, open(path, "w"))
    with pytest.raises(ValueError, match="language key 'annotation.human.action.task_description'") as e:
        GrootBase.from_pretrained(GrootSettings(model=bad))
    assert "\n" not in str(e.value)
    cfg["processor_kwargs"]["use_mean_std"] = True
    json.dump(cfg, open(path, "w"))
    with pytest.raises(ValueError, match="use_mean_std"):
        read_metadata(bad)


def test_relative_actions_decode_as_the_reference_says() -> None:
    """abs[t] = ref + unnormalise(rel[t]) for every t, ref = the query-time state; not a running sum."""
    def stats(lo: list, hi: list) -> dict:
        return {"min": lo, "max": hi, "q01": lo, "q99": hi}

    emb = {"statistics": {"state": {"single_arm": stats([-90.0] * 5, [90.0] * 5), "gripper": stats([0.0], [100.0])},
                          "action": {"single_arm": stats([-90.0] * 5, [90.0] * 5), "gripper": stats([0.0], [100.0])},
                          "relative_action": {"single_arm": stats([-10.0] * 5, [10.0] * 5)}},
           "normalisation": {"percentiles": True, "clip": True, "relative": {"single_arm": "single_arm"}}}
    norm = Normaliser(emb, LAYOUT, dtype=torch.float64)
    state = torch.tensor([[10.0, 20.0, -30.0, 0.0, 45.0, 50.0]], dtype=torch.float64)
    y = torch.zeros(1, HORIZON, 6, dtype=torch.float64)
    y[:, :, 0] = torch.linspace(-1, 1, HORIZON)
    raw = norm.action_to_raw(y, state)
    np.testing.assert_allclose(raw[0, :, 0], 10.0 + np.linspace(-10, 10, HORIZON), atol=1e-12)  # ref + rel[t]
    np.testing.assert_allclose(raw[0, :, 1:5], np.broadcast_to([20.0, -30.0, 0.0, 45.0], (HORIZON, 4)), atol=1e-12)
    np.testing.assert_allclose(raw[0, :, 5], 50.0, atol=1e-12)  # gripper absolute: 0 -> the middle of 0..100
    torch.testing.assert_close(norm.action_from_raw(raw, state), y)
    assert norm.state(torch.tensor([[200.0, 0, 0, 0, 0, 50]], dtype=torch.float64))[0, 0] == 1.0  # clipped


# ---------------------------------------------------------------------------------------------
# The nested contract in process, and version selection

def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return random_obs(seed, B)


def test_tiny_n17_policy_speaks_the_nested_contract(n17_dir: str) -> None:
    policy = TinyGr00tPolicyN17.from_pretrained(n17_dir)
    front, wrist, q = _inputs()
    state = to_lerobot(q.astype(np.float64)).astype(np.float32)
    obs = {"video": {"front": front[:, None], "wrist": wrist[:, None]},
           "state": {"single_arm": state[:, None, :5], "gripper": state[:, None, 5:]},
           "language": {"annotation.human.task_description": [["slide the paper"]] * B}}
    action, info = policy.get_action(obs)
    assert info == {} and policy.reset() == {}
    assert action["single_arm"].shape == (B, 16, 5) and action["gripper"].shape == (B, 16, 1)
    assert action["single_arm"].dtype == np.float32
    # Relative arm: within the relative statistics' span (+/- 30 degrees) of the query-time state.
    assert np.abs(action["single_arm"] - state[:, None, :5]).max() <= tiny_checkpoint.RELATIVE_SPAN_DEG + 1e-3
    assert sorted(policy.get_modality_config()["state"].modality_keys) == ["gripper", "single_arm"]
    with pytest.raises(KeyError, match="lacks \\['wrist'\\]"):
        policy.get_action({**obs, "video": {"front": front[:, None]}})
    seeded = [policy.get_action(obs, {"seed": s})[0]["single_arm"] for s in (1, 1, 2)]
    np.testing.assert_array_equal(seeded[0], seeded[1])
    assert np.abs(seeded[0] - seeded[2]).max() > 1e-4


def test_both_in_process_paths_give_one_chunk(n17_dir: str) -> None:
    """The nested contract (what a real N1.7 Gr00tPolicy gets) and the normalised path (the bridge's
    own normaliser, relative decode included) agree."""
    base = GrootBase.from_pretrained(GrootSettings(model=n17_dir, max_batch=2))
    assert isinstance(base.adapter, N17PolicyAdapter) and base.raw_units
    normalised = GrootBase(TinyAdapter.load(n17_dir, "new_embodiment", 4, "cpu"), base.layout, _emb(n17_dir),
                           base.settings)
    front, wrist, q = _inputs(1)
    for seed in (None, 7):
        torch.testing.assert_close(base.plan(front, wrist, q, seed=seed), normalised.plan(front, wrist, q, seed=seed),
                                   atol=1e-5, rtol=0)


def test_version_is_read_from_the_checkpoint_or_a_flag(n17_dir: str, tiny_dir: str) -> None:
    assert resolve_version("auto", n17_dir, True) == "n1.7" and resolve_version("auto", tiny_dir, True) == "n1.5"
    with pytest.raises(ValueError, match="version n1.5 was asked for .* is a GR00T n1.7 checkpoint"):
        GrootBase.from_pretrained(GrootSettings(model=n17_dir, version="n1.5"))
    assert resolve_version("auto", "nvidia/GR00T-N1.7-3B", False) == "n1.7"
    assert resolve_version("auto", "nvidia/GR00T-N1.5-3B", False) == "n1.5"
    assert resolve_version("n1.7", "me/my-finetune", False) == "n1.7"
    with pytest.raises(ValueError, match="pass --groot.version"):
        resolve_version("auto", "me/my-finetune", False)


def test_a_real_n17_checkpoint_without_isaac_gr00t_says_how_to_install(n17_dir: str, tmp_path: os.PathLike) -> None:
    import shutil

    real = str(tmp_path / "real")
    shutil.copytree(n17_dir, real)
    json.dump({"model_type": "some_gr00t_n1d7"}, open(os.path.join(real, "config.json"), "w"))
    with pytest.raises(ImportError, match="Isaac-GR00T"):
        GrootBase.from_pretrained(GrootSettings(model=real))


# ---------------------------------------------------------------------------------------------
# Over ZMQ: our server in both array forms, and the upstream stand-ins

@pytest.fixture(scope="module", params=["npy", "msgpack_numpy"])
def n17_server(request: pytest.FixtureRequest, n17_dir: str) -> Iterator[tuple[subprocess.Popen, str]]:
    with serve_tiny(n17_dir, "tok", extra=("--arrays", request.param)) as proc_address:
        yield proc_address


def test_our_client_and_server_speak_n17(n17_server: tuple[subprocess.Popen, str], n17_dir: str) -> None:
    address = n17_server[1]
    with ZmqClient(address, 60.0, "tok") as client:
        assert protocol_of(client) == "n1.7" and client.call("reset", {"options": None}) == {}
        with pytest.raises(Exception, match="unexpected arguments \\['bogus'\\]"):
            client.call("reset", {"bogus": 1})
    local = GrootBase.from_pretrained(GrootSettings(model=n17_dir, max_batch=2))
    remote = groot_base_from_server(GrootSettings(server=address, timeout=60.0, max_batch=2), api_token="tok")
    assert isinstance(remote.adapter, N17PolicyAdapter)
    front, wrist, q = _inputs(2)
    for seed in (None, 11):
        torch.testing.assert_close(remote.plan(front, wrist, q, seed=seed), local.plan(front, wrist, q, seed=seed),
                                   atol=0.0, rtol=0)
    with pytest.raises(ValueError, match="--groot.version n1.5 but"):
        groot_base_from_server(GrootSettings(server=address, model=n17_dir, version="n1.5"), api_token="tok")
    remote.adapter.policy.client.close()


@pytest.mark.parametrize("version", ["n1.5", "n1.7"])
def test_our_client_against_a_stand_in_of_each_upstream_server(version: str, tiny_dir: str) -> None:
    front, wrist, q = _inputs(3)
    state = to_lerobot(q.astype(np.float64))
    t = np.arange(HORIZON)[None, :, None]
    want = to_sim(np.concatenate([state[:, None, :5] + ARM_STEP_DEG * t, np.full((B, HORIZON, 1), GRIPPER)], axis=-1))
    with standin_server(version) as (address, seen):
        with ZmqClient(address, 30.0) as client:
            assert protocol_of(client) == version  # the N1.5 stand-in has no reset endpoint
        # N1.5 needs the checkpoint's metadata.json (Isaac-GR00T's server serves no statistics); N1.7 does not.
        settings = GrootSettings(server=address, timeout=30.0, model=tiny_dir if version == "n1.5" else None)
        base = groot_base_from_server(settings)
        chunk = base.plan(front, wrist, q)
        np.testing.assert_allclose(chunk.numpy(), want, atol=2e-5, rtol=0)
        if version == "n1.7":
            obs = seen[-1]["observation"]
            assert obs["video"]["front"].shape == (B, 1, 224, 224, 3) and obs["video"]["front"].dtype == np.uint8
            assert obs["state"]["single_arm"].shape == (B, 1, 5) and obs["state"]["single_arm"].dtype == np.float32
            assert obs["language"] == {"annotation.human.task_description": [[GrootSettings().task]] * B}
            assert seen[-1]["options"] is None  # the stand-in does not announce seeded noise: no seed option
        client = base.adapter.policy.client if version == "n1.7" else base.adapter.client
        client.close()
