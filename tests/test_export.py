"""Export of the residual policy: JAX and torch rebuilds match the flax policy, units, load errors."""

import dataclasses
import hashlib
import json
import os
import shutil
import types

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.training.acme import running_statistics
from safetensors.numpy import load_file, save_file

from mjx_gr00t import export, export_groot
from mjx_gr00t.residual import combine, scale_residual
from mjx_gr00t.rl import ppo
from mjx_gr00t.rl.networks import GaussianPolicy, get_activation

OBS_DIM, ACT_DIM, HIDDEN = 40, 6, (64, 64)
N_OBS = 1_000
TOL = 1e-5
GRIPPER_RANGE = (-0.174533, 1.7453292)
JOINT_RANGES = ((-1.92, 1.92), (-1.75, 1.75), (-1.69, 1.69), (-1.66, 1.66), (-2.74, 2.84), GRIPPER_RANGE)
JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


@dataclasses.dataclass(frozen=True)
class Exported:
    """A policy, its normaliser and config, and the directory it was exported to."""

    policy: GaussianPolicy
    params: dict
    normalizer: running_statistics.RunningStatisticsState
    config: ppo.PPOConfig
    spec: export.ExportSpec
    path: str


def _spec(activation: str) -> export.ExportSpec:
    return export.ExportSpec(
        scene="paper_square", base="ik", algo="ppo", hidden=HIDDEN, activation=activation,
        normalize_obs=True, obs_clip=5.0, obs_layout=export.PAPER_SQUARE_OBS_LAYOUT, alpha=0.3,
        act_scale=0.02, joint_names=JOINTS, joint_ranges=JOINT_RANGES,
    )


def _build(tmp_path: os.PathLike, activation: str, **spec_changes: object) -> Exported:
    key_init, key_data = jax.random.split(jax.random.PRNGKey(0))
    policy = GaussianPolicy(ACT_DIM, HIDDEN, get_activation(activation), zero_init_head=False)
    params = policy.init(key_init, jnp.zeros((OBS_DIM,)))
    k_scale, k_loc, k_x = jax.random.split(key_data, 3)
    scale = jnp.exp(jax.random.uniform(k_scale, (OBS_DIM,), minval=-2.0, maxval=1.0))
    loc = jax.random.normal(k_loc, (OBS_DIM,))
    normalizer = running_statistics.init_state(jnp.zeros((OBS_DIM,)))
    for k in jax.random.split(k_x, 3):
        normalizer = running_statistics.update(normalizer, loc + scale * jax.random.normal(k, (256, OBS_DIM)))
    config = ppo.PPOConfig(policy_hidden=HIDDEN, activation=activation, normalize_obs=True, obs_clip=5.0)
    spec = dataclasses.replace(_spec(activation), **spec_changes)
    path = export.write_export(os.path.join(tmp_path, "export"), params, normalizer, spec)
    return Exported(policy, params, normalizer, config, spec, path)


def _obs(ex: Exported) -> np.ndarray:
    """Observations spread 4x wider than the data, so the obs clip bites on some entries."""
    z = jax.random.normal(jax.random.PRNGKey(1), (N_OBS, OBS_DIM)) * 4.0
    obs = np.array(ex.normalizer.mean + ex.normalizer.std * z, np.float32)
    assert np.mean(np.abs(z) > 5.0) > 0.05  # clip active
    return obs


def _flax_residual(ex: Exported, obs: np.ndarray) -> np.ndarray:
    @jax.jit
    def act(o: jax.Array) -> jax.Array:
        mean, _ = ex.policy.apply(ex.params, ppo.normalize_obs(ex.config, ex.normalizer, o))
        return jnp.clip(mean, -1.0, 1.0)

    return np.asarray(act(jnp.asarray(obs)))


@pytest.fixture(params=["swish", "tanh"])
def exported(request: pytest.FixtureRequest, tmp_path: os.PathLike) -> Exported:
    return _build(tmp_path, request.param)


def test_files_and_schema(exported: Exported) -> None:
    tensors, meta = export.load_export(exported.path)
    assert sorted(os.listdir(exported.path)) == [export.META_FILE, export.TENSORS_FILE]  # no temp files left
    assert all(t.dtype == np.float32 for t in tensors.values())
    assert meta["format_version"] == export.FORMAT_VERSION
    assert [lay["name"] for lay in meta["network"]["layers"]] == ["mean.hidden_0", "mean.hidden_1", "mean.head"]
    assert [(lay["in"], lay["out"]) for lay in meta["network"]["layers"]] == [(40, 64), (64, 64), (64, 6)]
    assert meta["obs_dim"] == OBS_DIM
    assert meta["observation_layout"][-1] == {"name": "base_action", "start": 34, "size": 6}
    assert meta["normalizer"]["obs_clip"] == 5.0 and meta["alpha"] == 0.3 and meta["act_scale"] == 0.02
    assert meta["groot"] is None  # base 'ik'
    np.testing.assert_array_equal(tensors["obs_std"], np.asarray(exported.normalizer.std, np.float32))
    np.testing.assert_array_equal(tensors["mean.head.kernel"], exported.params["params"]["mean"]["head"]["kernel"])


def test_jax_export_matches_flax(exported: Exported) -> None:
    obs = _obs(exported)
    fn = jax.jit(export.export_policy_fn(*export.load_export(exported.path)))
    want = _flax_residual(exported, obs)
    assert np.abs(want).max() > 0.1  # a non-trivial head
    np.testing.assert_allclose(np.asarray(fn(obs)), want, rtol=0, atol=TOL)


def test_torch_matches_flax_and_total_action(exported: Exported) -> None:
    torch = pytest.importorskip("torch")
    from bridge.residual_torch import FORMAT_VERSION, ResidualPolicy

    assert FORMAT_VERSION == export.FORMAT_VERSION
    module = ResidualPolicy.from_export(exported.path)
    obs = _obs(exported)
    want = _flax_residual(exported, obs)
    with torch.no_grad():
        got = module(torch.from_numpy(obs))
    assert got.dtype == torch.float32 and tuple(got.shape) == (N_OBS, ACT_DIM)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=TOL)

    base = np.array(jax.random.uniform(jax.random.PRNGKey(2), (N_OBS, ACT_DIM), minval=-1.0, maxval=1.0))
    want_total = np.asarray(combine(jnp.asarray(base), scale_residual(jnp.asarray(want), exported.spec.alpha)))
    with torch.no_grad():
        total = module.total_action(torch.from_numpy(obs), torch.from_numpy(base))
    np.testing.assert_allclose(total.numpy(), want_total, rtol=0, atol=TOL)

    delta = module.to_lerobot_delta(total).numpy()
    want_delta = export.sim_delta_to_lerobot(exported.spec.act_scale * want_total, JOINT_RANGES)
    np.testing.assert_allclose(delta, want_delta, rtol=1e-5, atol=1e-5)


def _loaders() -> list:
    loaders = [export.load_export]
    try:
        from bridge.residual_torch import ResidualPolicy
        loaders.append(ResidualPolicy.from_export)
    except ImportError:
        pass
    return loaders


def _rewrite_json(path: str, **changes: object) -> None:
    meta_path = os.path.join(path, export.META_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    meta.update(changes)
    with open(meta_path, "w") as f:
        json.dump(meta, f)


def test_load_errors(tmp_path: os.PathLike) -> None:
    ex = _build(tmp_path, "swish")
    tensors_path = os.path.join(ex.path, export.TENSORS_FILE)
    for load in _loaders():
        with pytest.raises(FileNotFoundError, match="nowhere"):
            load(os.path.join(tmp_path, "nowhere"))

    with open(tensors_path, "rb") as f:
        good = f.read()
    with open(tensors_path, "wb") as f:  # corrupted: flipped bytes
        f.write(good[:-8] + bytes(b ^ 0xFF for b in good[-8:]))
    for load in _loaders():
        with pytest.raises(ValueError, match="checksum"):
            load(ex.path)

    with open(tensors_path, "wb") as f:  # restore, then drop one tensor (and fix the checksum)
        f.write(good)
    tensors = load_file(tensors_path)
    del tensors["mean.head.bias"]
    save_file(tensors, tensors_path)
    with open(tensors_path, "rb") as f:
        _rewrite_json(ex.path, tensors_sha256=hashlib.sha256(f.read()).hexdigest())
    for load in _loaders():
        with pytest.raises(ValueError, match="mean.head.bias"):
            load(ex.path)

    _rewrite_json(ex.path, format_version=99)
    for load in _loaders():
        with pytest.raises(ValueError, match="format_version 99"):
            load(ex.path)

    os.remove(tensors_path)
    for load in _loaders():
        with pytest.raises(FileNotFoundError, match="residual.safetensors"):
            load(ex.path)


def test_spec_and_export_validation(tmp_path: os.PathLike) -> None:
    with pytest.raises(ValueError, match="activation"):
        dataclasses.replace(_spec("swish"), activation="gelu")
    with pytest.raises(ValueError, match="algo"):
        dataclasses.replace(_spec("swish"), algo="ddpg")
    ex = _build(tmp_path, "tanh")
    with pytest.raises(ValueError, match="hidden"):
        export.write_export(tmp_path, ex.params, ex.normalizer, dataclasses.replace(ex.spec, hidden=(32, 32)))
    with pytest.raises(ValueError, match="obs_layout"):
        export.write_export(tmp_path, ex.params, ex.normalizer,
                            dataclasses.replace(ex.spec, obs_layout=(("joint_pos", 6),)))


# ----- the GR00T base's record (--base groot) ------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("torch")
    from bridge import tiny

    return tiny.write_checkpoint(str(tmp_path_factory.mktemp("tiny_groot")), key_map="cam01_arm0", seed=0)


def _groot_flags(model: str, base: str = "groot") -> types.SimpleNamespace:
    """A trainer's --groot-* flags (run_dir.RunFlags), as `train.export` reads them from a run."""
    return types.SimpleNamespace(
        base=base, groot_model=model if base == "groot" else None, groot_data_config="so100_dualcam",
        groot_key_map="cam01_arm0", groot_embodiment_tag="new_embodiment", groot_n_action_steps=6,
        groot_max_batch=64, groot_task="Push the card into the square.", groot_device="cpu",
        groot_torch_threads=1)


def test_groot_settings_are_recorded_and_load_the_same_base(tiny_dir: str, tmp_path: os.PathLike) -> None:
    from bridge.groot import KEY_MAPS, GrootBase
    from train.groot_base import groot_export_of

    record = groot_export_of(_groot_flags(tiny_dir))
    ex = _build(tmp_path, "swish", base="groot", groot=record)
    _, meta = export.load_export(ex.path)
    g = meta["groot"]
    with open(os.path.join(tiny_dir, "experiment_cfg", "metadata.json"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert g["model"] == os.path.abspath(tiny_dir) and g["metadata_sha256"] == sha
    assert g["data_config"] == "so100_dualcam" and g["embodiment_tag"] == "new_embodiment"
    assert g["key_map_name"] == "cam01_arm0"
    assert g["key_map"] == KEY_MAPS["cam01_arm0"]
    assert (g["n_action_steps"], g["action_horizon"], g["denoising_steps"]) == (6, 16, 4)
    assert g["task"] == "Push the card into the square." and g["image_size"] == [224, 224]
    assert g["video"] == [{"key": "video.image_cam_0", "camera": "front"},
                          {"key": "video.image_cam_1", "camera": "wrist"}]
    assert g["state"] == [{"key": "state.arm_0", "size": 6}] and g["action"] == [{"key": "action.arm_0", "size": 6}]
    assert export_groot.GrootExport.from_json(g) == record == export_groot.read_groot_export(ex.path)

    base = GrootBase.from_export(ex.path)  # the deployment side: the same base, queried the same way
    assert (base.n_action_steps, base.config.task, base.config.embodiment_tag) == (6, g["task"], "new_embodiment")
    assert dict(base.config.key_map) == KEY_MAPS["cam01_arm0"] and base.layout.video == record.video

    moved = os.path.join(tmp_path, "moved")  # the checkpoint elsewhere on the deployment machine
    shutil.copytree(tiny_dir, moved)
    assert GrootBase.from_export(ex.path, model=moved).n_action_steps == 6
    path = os.path.join(moved, "experiment_cfg", "metadata.json")
    with open(path) as f:
        stats = json.load(f)
    stats["new_embodiment"]["statistics"]["state"]["arm_0"]["max"][0] += 1.0
    with open(path, "w") as f:
        json.dump(stats, f)
    with pytest.raises(ValueError, match="differs from the metadata.json the residual"):
        GrootBase.from_export(ex.path, model=moved)


def test_train_export_adds_the_groot_record(tiny_dir: str, tmp_path: os.PathLike, monkeypatch) -> None:
    """`python -m train.export` on a --base groot run records the base even when the trainer's export
    spec did not carry it."""
    from train import export as export_cli
    from train.trained import Trained

    ex = _build(tmp_path, "swish", base="groot")
    assert export.load_export(ex.path)[1]["groot"] is None

    def fake_load(run: str) -> Trained:
        return Trained(args=_groot_flags(tiny_dir), env=None, policy_fn=None, params=None, env_steps=8,
                       export=lambda d: export.write_export(d, ex.params, ex.normalizer, ex.spec))

    monkeypatch.setattr(export_cli, "load_trained", fake_load)
    out = export_cli.export(export_cli.Args(run=str(tmp_path), out=os.path.join(tmp_path, "again")))
    tensors, meta = export.load_export(out)  # the tensor checksum still holds
    assert meta["groot"]["n_action_steps"] == 6 and meta["groot"]["model"] == os.path.abspath(tiny_dir)
    np.testing.assert_array_equal(tensors["obs_mean"], np.asarray(ex.normalizer.mean, np.float32))


def test_groot_record_errors(tiny_dir: str, tmp_path: os.PathLike) -> None:
    from train.groot_base import groot_export_of

    record = groot_export_of(_groot_flags(tiny_dir))
    assert groot_export_of(_groot_flags(tiny_dir, base="ik")) is None
    with pytest.raises(ValueError, match="belongs to base 'groot' only, this export's base is 'ik'"):
        dataclasses.replace(_spec("swish"), groot=record)
    ex = _build(tmp_path, "swish")
    with pytest.raises(ValueError, match="records no GR00T base .its base is 'ik'"):
        export_groot.read_groot_export(ex.path)
    with pytest.raises(ValueError, match="has base 'ik'; a GR00T record belongs only"):
        export_groot.add_groot_export(ex.path, record)
    with pytest.raises(ValueError, match="n_action_steps must be in 1..action_horizon=16, got 17"):
        dataclasses.replace(record, n_action_steps=17)
    with pytest.raises(ValueError, match="incomplete or malformed: KeyError..n_action_steps"):
        export_groot.GrootExport.from_json({k: v for k, v in record.to_json().items() if k != "n_action_steps"})
