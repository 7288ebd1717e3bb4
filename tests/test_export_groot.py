"""mjx_gr00t.export.groot: the GR00T record of a residual trained on `--base groot`, written with the
export, added to one afterwards (the same bytes), read back, and loaded as the same base by the bridge."""

import dataclasses
import hashlib
import json
import os
import shutil

import pytest
from export_samples import GROOT_KWARGS, REFERENCE_DIR, build_exported, paper_spec, reference_cases

from mjx_gr00t.export.format import META_FILE, TENSORS_FILE
from mjx_gr00t.export.groot import CHUNK_FORMULA, GrootExport, add_groot_export, read_groot_export
from mjx_gr00t.export.read import load_export
from mjx_gr00t.export.spec import ExportSpec
from mjx_gr00t.export.write import write_export

RECORD = GrootExport(**GROOT_KWARGS)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_record_round_trips_through_an_export(tmp_path: os.PathLike) -> None:
    c = reference_cases()["ppo_groot"]
    out = write_export(tmp_path, c["params"], c["normalizer"], ExportSpec(**{**c["spec"], "groot": RECORD}))
    g = load_export(out)[1]["groot"]
    assert g["chunk_formula"] == CHUNK_FORMULA and g["image_dtype"] == "uint8 RGB (B, 1, H, W, 3)"
    assert g["key_map"] == {"video.front": "video.image_cam_0"} and g["state"] == [{"key": "state.arm_0", "size": 6}]
    assert GrootExport.from_json(g) == RECORD == read_groot_export(out)
    assert GrootExport.from_json(json.loads(json.dumps(RECORD.to_json()))) == RECORD


def test_adding_the_record_later_gives_the_bytes_of_writing_it_at_once(tmp_path: os.PathLike) -> None:
    """An export written without the record, then `add_groot_export`: both files as if the spec had
    carried it (tests/data/export_v1/ppo_groot), so the tensor checksum still holds."""
    c = reference_cases()["ppo_groot"]
    out = write_export(tmp_path, c["params"], c["normalizer"], ExportSpec(**c["spec"]))
    assert load_export(out)[1]["groot"] is None
    tensors_before = _read(os.path.join(out, TENSORS_FILE))
    add_groot_export(out, RECORD)
    assert sorted(os.listdir(out)) == [META_FILE, TENSORS_FILE]  # no temp files left
    assert _read(os.path.join(out, TENSORS_FILE)) == tensors_before
    for name in (META_FILE, TENSORS_FILE):
        assert _read(os.path.join(out, name)) == _read(os.path.join(REFERENCE_DIR, "ppo_groot", name)), name
    assert read_groot_export(out) == RECORD


def test_groot_record_errors(tmp_path: os.PathLike) -> None:
    with pytest.raises(ValueError, match="belongs to base 'groot' only, this export's base is 'ik'"):
        dataclasses.replace(paper_spec("swish"), groot=RECORD)
    ex = build_exported(tmp_path, "swish")
    with pytest.raises(ValueError, match="records no GR00T base .its base is 'ik'"):
        read_groot_export(ex.path)
    with pytest.raises(ValueError, match="has base 'ik'; a GR00T record belongs only"):
        add_groot_export(ex.path, RECORD)
    with pytest.raises(ValueError, match="n_action_steps must be in 1..action_horizon=16, got 17"):
        dataclasses.replace(RECORD, n_action_steps=17)
    with pytest.raises(ValueError, match="cover different joints"):
        dataclasses.replace(RECORD, action=(("action.arm_0", 5),))
    with pytest.raises(ValueError, match="incomplete or malformed: KeyError..n_action_steps"):
        GrootExport.from_json({k: v for k, v in RECORD.to_json().items() if k != "n_action_steps"})


def test_the_contract_is_recorded_where_known_and_handed_to_deployment() -> None:
    """An export names the GR00T contract its base spoke, so a served or Hugging Face base is queried in
    it again; where training could not know it (a server chose) nothing is written and old exports
    keep their bytes."""
    pytest.importorskip("torch")
    from bridge.deploy_side import served_settings
    from bridge.groot.planner import recorded_version
    from mjx_gr00t.groot_settings import GrootSettings

    assert recorded_version(GrootSettings(model="nvidia/GR00T-N1.7-3B"), local=False) == "n1.7"
    assert recorded_version(GrootSettings(model="me/my-finetune", version="n1.7"), local=False) == "n1.7"
    assert recorded_version(GrootSettings(model="me/my-finetune"), local=False) is None
    assert recorded_version(GrootSettings(server="tcp://gpu-box:5555"), local=False) is None
    assert recorded_version(GrootSettings(server="tcp://gpu-box:5555", version="n1.5"), local=False) == "n1.5"
    n17 = dataclasses.replace(RECORD, version="n1.7")
    assert GrootExport.from_json(json.loads(json.dumps(n17.to_json()))) == n17
    assert "version" not in RECORD.to_json() and GrootExport.from_json(RECORD.to_json()).version is None
    assert served_settings(n17, None, "tcp://gpu-box:5555", 2.0).version == "n1.7"
    assert served_settings(RECORD, None, "tcp://gpu-box:5555", 2.0).version == "auto"
    with pytest.raises(ValueError, match="version must be one of n1.5, n1.7 or None, got 'n2'"):
        dataclasses.replace(RECORD, version="n2")


# ----- through the bridge: a tiny GR00T-contract checkpoint (torch) ---------------------------------------
@pytest.fixture(scope="module")
def tiny_cam01(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("torch")
    from bridge import tiny_checkpoint

    return tiny_checkpoint.write_checkpoint(str(tmp_path_factory.mktemp("tiny_groot")), key_map="cam01_arm0", seed=0)


def test_groot_settings_are_recorded_and_load_the_same_base(tiny_cam01: str, tmp_path: os.PathLike) -> None:
    from bridge.groot.layout import KEY_MAPS
    from bridge.groot.planner import export_record
    from bridge.groot.policy import GrootBase
    from mjx_gr00t.groot_settings import GrootSettings

    record = export_record(GrootSettings(model=tiny_cam01, key_map="cam01_arm0", n_action_steps=6,
                                         task="Push the card into the square."))
    ex = build_exported(tmp_path, "swish", base="groot", groot=record)
    _, meta = load_export(ex.path)
    g = meta["groot"]
    sha = hashlib.sha256(_read(os.path.join(tiny_cam01, "experiment_cfg", "metadata.json"))).hexdigest()
    assert g["model"] == os.path.abspath(tiny_cam01) and g["metadata_sha256"] == sha
    assert g["data_config"] == "so100_dualcam" and g["embodiment_tag"] == "new_embodiment"
    assert g["key_map_name"] == "cam01_arm0"
    assert g["key_map"] == KEY_MAPS["cam01_arm0"]
    assert (g["n_action_steps"], g["action_horizon"], g["denoising_steps"]) == (6, 16, 4)
    assert g["task"] == "Push the card into the square." and g["image_size"] == [224, 224]
    assert g["video"] == [{"key": "video.image_cam_0", "camera": "front"},
                          {"key": "video.image_cam_1", "camera": "wrist"}]
    assert g["state"] == [{"key": "state.arm_0", "size": 6}] and g["action"] == [{"key": "action.arm_0", "size": 6}]
    assert GrootExport.from_json(g) == record == read_groot_export(ex.path) and g["version"] == "n1.5"

    base = GrootBase.from_export(ex.path)  # the deployment side: the same base, queried the same way
    assert (base.n_action_steps, base.settings.task, base.settings.embodiment_tag) == (6, g["task"], "new_embodiment")
    assert base.settings.key_map == "cam01_arm0" and base.layout.video == record.video

    moved = os.path.join(tmp_path, "moved")  # the checkpoint elsewhere on the deployment machine
    shutil.copytree(tiny_cam01, moved)
    assert GrootBase.from_export(ex.path, model=moved).n_action_steps == 6
    path = os.path.join(moved, "experiment_cfg", "metadata.json")
    with open(path) as f:
        stats = json.load(f)
    stats["new_embodiment"]["statistics"]["state"]["arm_0"]["max"][0] += 1.0
    with open(path, "w") as f:
        json.dump(stats, f)
    with pytest.raises(ValueError, match="differ from those the residual"):
        GrootBase.from_export(ex.path, model=moved)


def test_an_n17_base_is_recorded_and_deployed_through_its_own_contract(tmp_path: os.PathLike) -> None:
    """A residual trained on an N1.6/N1.7 checkpoint: the export fingerprints its processor files, and
    the deployment side loads it through the nested contract again; other statistics are refused."""
    pytest.importorskip("torch")
    from bridge import tiny_checkpoint
    from bridge.groot.contract_n17 import N17PolicyAdapter
    from bridge.groot.planner import export_record
    from bridge.groot.policy import GrootBase
    from mjx_gr00t.groot_settings import GrootSettings

    ckpt = tiny_checkpoint.write_checkpoint(str(tmp_path / "n17"), contract="n1.7")
    record = export_record(GrootSettings(model=ckpt))
    assert record.metadata_sha256 is not None and record.version == "n1.7"
    ex = build_exported(tmp_path, "swish", base="groot", groot=record)
    base = GrootBase.from_export(ex.path)
    assert isinstance(base.adapter, N17PolicyAdapter) and base.settings.version == "n1.7"
    path = os.path.join(ckpt, "statistics.json")
    with open(path) as f:
        stats = json.load(f)
    stats["new_embodiment"]["relative_action"]["single_arm"]["q99"][0] += 1.0
    with open(path, "w") as f:
        json.dump(stats, f)
    with pytest.raises(ValueError, match="differ from those the residual"):
        GrootBase.from_export(ex.path)
