"""bridge.groot.layout: data configs and key maps, checkpoint metadata checks, min-max normalisation,
and the SO-101 joint ranges against the MJCF (no model, no torch beyond the normaliser)."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bridge.groot.layout import (
    KEY_MAPS, SO101_JOINT_RANGES, check_layout, checkpoint_kind, embodiment_metadata, min_max, normalise_min_max,
    read_metadata, resolve_layout, unnormalise_min_max,
)


def test_the_layout_module_needs_no_torch() -> None:
    code = "import sys, bridge.groot.layout; sys.exit('torch' in sys.modules or 'jax' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1]).returncode == 0


def test_key_maps_rename_and_concatenate() -> None:
    plain = resolve_layout("so100_dualcam")
    assert plain.video == (("video.front", "front"), ("video.wrist", "wrist"))
    assert plain.state == (("state.single_arm", 5), ("state.gripper", 1)) and plain.action_horizon == 16
    for key_map in ("cam01_arm0", KEY_MAPS["cam01_arm0"]):
        mapped = resolve_layout("so100_dualcam", key_map)
        assert mapped.video == (("video.image_cam_0", "front"), ("video.image_cam_1", "wrist"))
        assert mapped.state == (("state.arm_0", 6),) and mapped.action == (("action.arm_0", 6),)
    assert resolve_layout("so100").video == (("video.webcam", "front"),)


def test_bad_layouts_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown data config 'so101_quadcam'"):
        resolve_layout("so101_quadcam")
    with pytest.raises(ValueError, match="unknown key map 'cam9'"):
        resolve_layout("so100_dualcam", "cam9")
    with pytest.raises(ValueError, match="lacks"):
        resolve_layout("so100_dualcam", {"video.top": "video.cam"})
    with pytest.raises(ValueError, match="keep the modality"):
        resolve_layout("so100_dualcam", {"video.front": "state.front"})
    with pytest.raises(ValueError, match="two cameras to one video key"):
        resolve_layout("so100_dualcam", {"video.front": "video.x", "video.wrist": "video.x"})


def test_metadata_of_a_tiny_checkpoint(tiny_dir: str, tmp_path: Path) -> None:
    assert checkpoint_kind(tiny_dir) == ("tiny", True)
    assert checkpoint_kind("nvidia/GR00T-N1.5-3B") == ("gr00t", False)
    with pytest.raises(FileNotFoundError, match="neither"):
        checkpoint_kind(str(tmp_path / "nowhere" / "x" / "y"))
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match=r"model_type 'bert'"):
        checkpoint_kind(str(tmp_path / "bert"))
    emb = embodiment_metadata(read_metadata(tiny_dir), "new_embodiment")
    layout = resolve_layout("so100_dualcam")
    check_layout(layout, emb)
    lo, hi = min_max(emb, layout.state, "state")
    assert lo.shape == hi.shape == (6,) and (lo < hi).all()
    with pytest.raises(ValueError, match=r"does not match.*video\.image_cam_0.*key_map"):
        check_layout(resolve_layout("so100_dualcam", "cam01_arm0"), emb)
    with pytest.raises(ValueError, match=r"embodiment tag 'gr1' is not in .*new_embodiment"):
        embodiment_metadata(read_metadata(tiny_dir), "gr1")
    with pytest.raises(FileNotFoundError, match=r"experiment_cfg/metadata.json"):
        read_metadata(str(tmp_path))


def test_min_max_normalisation_round_trip() -> None:
    import torch

    lo, hi = torch.tensor([-2.0, 0.0, 5.0]), torch.tensor([2.0, 10.0, 5.0])
    x = torch.tensor([[0.0, 10.0, 5.0], [-2.0, 2.5, 7.0]])
    y = normalise_min_max(x, lo, hi)
    torch.testing.assert_close(y, torch.tensor([[0.0, 1.0, 0.0], [-1.0, -0.5, 0.0]]))  # 0 where max == min
    torch.testing.assert_close(unnormalise_min_max(y, lo, hi)[:, :2], x[:, :2])


def test_joint_ranges_match_the_mjcf() -> None:
    xml = Path(__file__).resolve().parents[1] / "envs_xml" / "so101.xml"
    joints = {j.get("name"): tuple(map(float, j.get("range").split()))
              for j in ET.parse(xml).iter("joint") if j.get("range")}
    names = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
    assert tuple(joints[n] for n in names) == SO101_JOINT_RANGES


def test_statistics_in_other_units_are_one_clear_line(tiny_dir):
    import copy

    from bridge.groot.layout import SO101_JOINT_RANGES, check_units

    layout = resolve_layout("so100_dualcam")
    emb = embodiment_metadata(read_metadata(tiny_dir), "new_embodiment")
    check_units(emb, layout, SO101_JOINT_RANGES)  # the tiny checkpoint's degrees and 0..100 pass
    radians = copy.deepcopy(emb)
    arm = radians["statistics"]["state"]["single_arm"]
    arm["min"], arm["max"] = [-1.5] * 5, [1.5] * 5
    with pytest.raises(ValueError, match="radians, where LeRobot's SO-101 uses degrees") as e:
        check_units(radians, layout, SO101_JOINT_RANGES, "ckpt")
    assert "\n" not in str(e.value)
    ticks = copy.deepcopy(emb)
    ticks["statistics"]["state"]["single_arm"]["max"] = [4095.0] * 5
    with pytest.raises(ValueError, match="servo ticks"):
        check_units(ticks, layout, SO101_JOINT_RANGES)
    unit_gripper = copy.deepcopy(emb)
    unit_gripper["statistics"]["state"]["gripper"]["max"] = [1.7]
    unit_gripper["statistics"]["state"]["gripper"]["min"] = [-0.17]
    check_units(unit_gripper, layout, SO101_JOINT_RANGES)  # within 0..100: a gripper that barely opens is fine
    unit_gripper["statistics"]["state"]["gripper"]["min"] = [-10.0]
    with pytest.raises(ValueError, match="not within LeRobot's 0..100"):
        check_units(unit_gripper, layout, SO101_JOINT_RANGES)
