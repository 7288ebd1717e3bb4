"""benchmarks.ik_base: scores the trainers' held-out episodes, writes a JSON naming the machine,
and bad flags give one clear line."""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import json

import pytest

from benchmarks import ik_base
from mjx_gr00t.errors import UsageError
from mjx_gr00t.runner.config import RunSettings


def test_default_seed_is_the_trainers_held_out_seed() -> None:
    """The README's IK-base figure and the PPO table's base-alone column must be the same episodes."""
    assert ik_base.Args().seed == RunSettings().eval_seed


def test_dr_off_run_writes_its_record(tmp_path) -> None:
    path = tmp_path / "ik.json"
    record = ik_base.main(ik_base.Args(episodes=2, dr="off", engine="c", json=str(path)))
    assert json.loads(path.read_text()) == json.loads(json.dumps(record))
    n, k = record["episodes"], record["successes"]
    assert n == 2 and record["success_rate"] == k / n
    # DR off: every episode starts from the same nominal state, so they all end alike. Whether that
    # nominal push succeeds depends on the CPU's floating point, so it is not asserted here.
    assert k in (0, n)
    low, high = record["success_ci95"]
    assert low <= record["success_rate"] <= high
    assert record["dr"] == "off" and record["engine"] == "c" and record["seed"] == ik_base.HELD_OUT_SEED
    assert record["machine"] and record["machine_tag"]
    assert "--episodes 2" in record["command"] and "--dr off" in record["command"]


@pytest.mark.parametrize("args, message", [
    (ik_base.Args(episodes=0), "--episodes must be >= 1"),
    (ik_base.Args(episodes=4, json="/nonexistent-dir/ik.json"), "its directory does not exist"),
])
def test_bad_flags_give_one_clear_line(args: ik_base.Args, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ik_base.main(args)
