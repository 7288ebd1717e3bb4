"""benchmarks.paper_contact: a few probes run, are counted, and the record names the machine; bad flags."""

import json

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


@pytest.mark.parametrize("args", [paper_contact.Args(episodes=0), paper_contact.Args(steps=10),
                                  paper_contact.Args(json="/nonexistent-dir/x.json")])
def test_bad_flags_are_one_clear_line(args):
    with pytest.raises(UsageError):
        paper_contact.main(args)
