"""benchmarks.paper_contact: a few probes run, are counted, and the record names the machine; bad flags."""

import json

import numpy as np

import pytest

from benchmarks import paper_contact
from mjx_gr00t.errors import UsageError


def test_a_few_probes_write_their_record(tmp_path):
    path = tmp_path / "contact.json"
    record = paper_contact.main(paper_contact.Args(episodes=6, batch=3, steps=70, json=str(path)))
    saved = json.loads(path.read_text())
    assert saved["episodes"] == 6 and saved["engine"] == "c" and saved["machine"]
    for name in ("launched", "tunnelled", "non_finite"):
        assert saved[name]["count"] == 0, name  # the default physics holds under these probes
    assert record["physics"]["physics_hz"] == 540 and record["physics_steps_per_s"] > 0
    assert saved["cases"] == {"launched": [], "tunnelled": [], "non_finite": []}


def test_a_probe_replays_alone(tmp_path):
    """--only I: probe I's key and plan are those it had in the full run, whatever that run's size."""
    full = paper_contact.probe_keys(0, np.arange(1000))
    np.testing.assert_array_equal(paper_contact.probe_keys(0, np.array([7, 2])), full[np.array([7, 2])])
    record = paper_contact.main(paper_contact.Args(episodes=5, only=(7, 2), steps=60))
    assert record["episodes"] == 2
    from mjx_gr00t.envs import registry
    from mjx_gr00t.residual_env import scene_config
    task = registry.make("paper_square", scene_config("paper_square", 1, "c", dr=True)).task
    case = paper_contact.describe(task, full[7], 7)
    assert case["index"] == 7 and len(case["start"]) == 2 and len(case["sheet_xy"]) == 2
    assert (-0.0005 <= case["depth_m"] <= 0.003) if case["push"] else (0.0 <= case["depth_m"] <= 0.006)


@pytest.mark.parametrize("args", [paper_contact.Args(episodes=0), paper_contact.Args(steps=10),
                                  paper_contact.Args(only=(3, -1)),
                                  paper_contact.Args(json="/nonexistent-dir/x.json")])
def test_bad_flags_are_one_clear_line(args):
    with pytest.raises(UsageError):
        paper_contact.main(args)
