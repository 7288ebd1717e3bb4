"""mjx_gr00t.groot_settings: the one GR00T settings record, its CLI flags (tyro, nested as --groot.*),
the checks that name the flag to fix, and its choices kept equal to the bridge's."""

import dataclasses
from typing import get_args, get_type_hints

import pytest
import tyro

from bridge.groot.layout import DATA_CONFIGS, KEY_MAPS
from mjx_gr00t.errors import UsageError
from mjx_gr00t.groot_settings import MACHINE_FIELDS, GrootSettings, check_groot, flag, groot_problem

FIELDS = ("model", "version", "data_config", "key_map", "embodiment_tag", "n_action_steps", "max_batch", "task", "device",
          "torch_threads", "server", "timeout")


@dataclasses.dataclass(frozen=True)
class Run:
    """A trainer-like CLI that nests the settings."""

    groot: GrootSettings = GrootSettings()


def test_frozen_hashable_with_the_agreed_fields() -> None:
    settings = GrootSettings(model="ckpt", n_action_steps=4)
    assert tuple(f.name for f in dataclasses.fields(GrootSettings)) == FIELDS
    assert hash(settings) == hash(GrootSettings(model="ckpt", n_action_steps=4))  # an env cache key
    assert settings != GrootSettings(model="ckpt")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.model = "other"  # type: ignore[misc]
    assert set(MACHINE_FIELDS) <= set(FIELDS)
    assert groot_problem(GrootSettings()) is None


def test_choices_match_the_bridge() -> None:
    """The settings cannot import the bridge (torch-free), so its choices are spelled out; keep them equal."""
    hints = get_type_hints(GrootSettings)
    assert set(get_args(hints["data_config"])) == set(DATA_CONFIGS)
    key_maps = {a for t in get_args(hints["key_map"]) for a in get_args(t)}
    assert key_maps == set(KEY_MAPS)


def test_nested_cli_flags_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    run = tyro.cli(Run, args=["--groot.model", "ckpt", "--groot.n-action-steps", "4", "--groot.key-map",
                              "cam01_arm0", "--groot.server", "tcp://h:1", "--groot.timeout", "5"])
    assert run.groot == GrootSettings(model="ckpt", n_action_steps=4, key_map="cam01_arm0", server="tcp://h:1",
                                      timeout=5.0)
    with pytest.raises(SystemExit):
        tyro.cli(Run, args=["--groot.data-config", "so101_quadcam"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        tyro.cli(Run, args=["-h"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in FIELDS:
        assert flag(name) in text, name
    for doc in ("Hugging Face id", "cam01_arm0", "1..16", "cuda:N", "GROOT_API_TOKEN", "seconds to wait"):
        assert doc in text, doc  # the field docstrings are the help


def test_check_groot_names_the_flag_to_fix() -> None:
    check_groot(GrootSettings(), "ik")  # other bases ignore the defaults
    check_groot(GrootSettings(model="ckpt"), "groot")
    check_groot(GrootSettings(server="tcp://gpu-box:5555"), "groot")  # --groot.model optional with a server
    bad = [
        (GrootSettings(), "groot", "--base groot needs the GR00T torch bridge: pass --groot.model"),
        (GrootSettings(model="x"), "ik", r"--groot.model applies to --base groot only \(this run has --base ik\)"),
        (GrootSettings(server="tcp://h:5555"), "ik", "--groot.server applies to --base groot only"),
        (GrootSettings(server="bad host:x"), "groot", "--groot.server must be tcp://HOST:PORT"),
        (GrootSettings(server="tcp://h:5555", timeout=0.0), "groot", "--groot.timeout must be > 0"),
        (GrootSettings(model="x", n_action_steps=17), "groot", r"--groot.n-action-steps must be in 1..16"),
        (GrootSettings(model="x", max_batch=0), "groot", "--groot.max-batch must be >= 1, got 0"),
        (GrootSettings(model="x", torch_threads=-1), "groot", "--groot.torch-threads must be >= 0"),
        (GrootSettings(model="x", task="  "), "groot", "--groot.task must be a non-empty instruction"),
        (GrootSettings(model="x", device="tpu"), "groot", "--groot.device must be 'cpu', 'cuda' or 'cuda:N'"),
    ]
    for settings, base, message in bad:
        with pytest.raises(UsageError, match=message) as info:
            check_groot(settings, base)
        assert str(info.value.code).startswith("error: --")  # exits with "error: ...", no traceback
