"""mjx_gr00t.export.write: the bytes written (the same as before the export package), the schema of
residual.json, and the checks on the spec and the params."""

import dataclasses
import os

import numpy as np
import pytest
from export_samples import GROOT_KWARGS, REFERENCE_DIR, Exported, build_exported, paper_spec, reference_cases

from mjx_gr00t.export.format import FORMAT_VERSION, META_FILE, TENSORS_FILE
from mjx_gr00t.export.groot import GrootExport
from mjx_gr00t.export.read import load_export
from mjx_gr00t.export.spec import ACTIVATION_FORMULAS, ExportSpec
from mjx_gr00t.export.write import sac_actor_as_mean_params, write_export
from mjx_gr00t.rl.networks import ACTIVATIONS


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("case", ["ppo_groot", "sac_tanh"])
def test_writes_the_bytes_the_code_before_the_package_wrote(case: str, tmp_path: os.PathLike) -> None:
    """tests/data/export_v1 was written by mjx_gr00t/export.py at commit 18ca3b7 from the same inputs."""
    c = reference_cases()[case]
    spec = ExportSpec(**{**c["spec"], "groot": GrootExport(**GROOT_KWARGS) if case == "ppo_groot" else None})
    params = c["params"]
    if c["sac_action_size"] is not None:
        params = sac_actor_as_mean_params(params, c["sac_action_size"])
    out = write_export(os.path.join(tmp_path, case), params, c["normalizer"], spec)
    assert sorted(os.listdir(out)) == [META_FILE, TENSORS_FILE]  # no temp files left
    for name in (TENSORS_FILE, META_FILE):
        assert _read(os.path.join(out, name)) == _read(os.path.join(REFERENCE_DIR, case, name)), name


@pytest.fixture(params=["swish", "tanh"])
def exported(request: pytest.FixtureRequest, tmp_path: os.PathLike) -> Exported:
    return build_exported(tmp_path, request.param)


def test_files_and_schema(exported: Exported) -> None:
    tensors, meta = load_export(exported.path)
    assert sorted(os.listdir(exported.path)) == [META_FILE, TENSORS_FILE]  # no temp files left
    assert all(t.dtype == np.float32 for t in tensors.values())
    assert meta["format_version"] == FORMAT_VERSION
    assert [lay["name"] for lay in meta["network"]["layers"]] == ["mean.hidden_0", "mean.hidden_1", "mean.head"]
    assert [(lay["in"], lay["out"]) for lay in meta["network"]["layers"]] == [(40, 64), (64, 64), (64, 6)]
    assert meta["obs_dim"] == 40
    assert meta["observation_layout"][-1] == {"name": "base_action", "start": 34, "size": 6}
    assert meta["normalizer"]["obs_clip"] == 5.0 and meta["alpha"] == 0.3 and meta["act_scale"] == 0.02
    assert meta["groot"] is None  # base 'ik'
    np.testing.assert_array_equal(tensors["obs_std"], np.asarray(exported.normalizer.std, np.float32))
    np.testing.assert_array_equal(tensors["mean.head.kernel"], exported.params["params"]["mean"]["head"]["kernel"])


def test_spec_and_export_validation(tmp_path: os.PathLike) -> None:
    assert set(ACTIVATION_FORMULAS) == set(ACTIVATIONS)  # the spec (no JAX) knows the networks' activations
    with pytest.raises(ValueError, match="activation"):
        dataclasses.replace(paper_spec("swish"), activation="gelu")
    with pytest.raises(ValueError, match="algo"):
        dataclasses.replace(paper_spec("swish"), algo="ddpg")
    ex = build_exported(tmp_path, "tanh")
    with pytest.raises(ValueError, match="hidden"):
        write_export(tmp_path, ex.params, ex.normalizer, dataclasses.replace(ex.spec, hidden=(32, 32)))
    with pytest.raises(ValueError, match="obs_layout"):
        write_export(tmp_path, ex.params, ex.normalizer, dataclasses.replace(ex.spec, obs_layout=(("joint_pos", 6),)))
    with pytest.raises(ValueError, match="no normalizer"):
        write_export(tmp_path, ex.params, None, ex.spec)
