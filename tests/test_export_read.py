"""mjx_gr00t.export.read: the JAX and torch rebuilds of an export match the flax policy; broken
exports are refused with errors that name the problem; exports written before the package still load."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import hashlib
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from export_samples import REFERENCE_DIR, JOINT_RANGES, Exported, build_exported
from safetensors.numpy import load_file, save_file

from mjx_gr00t.export.format import META_FILE, TENSORS_FILE
from mjx_gr00t.export.read import export_policy_fn, load_export
from mjx_gr00t.export.units import sim_delta_to_lerobot
from mjx_gr00t.residual import combine, scale_residual
from mjx_gr00t.rl.networks import normalize_obs

N_OBS = 1_000
TOL = 1e-5


@pytest.fixture(params=["swish", "tanh"])
def exported(request: pytest.FixtureRequest, tmp_path: os.PathLike) -> Exported:
    return build_exported(tmp_path, request.param)


def _obs(ex: Exported) -> np.ndarray:
    """Observations spread 4x wider than the data, so the obs clip bites on some entries."""
    z = jax.random.normal(jax.random.PRNGKey(1), (N_OBS, ex.spec.obs_dim)) * 4.0
    obs = np.array(ex.normalizer.mean + ex.normalizer.std * z, np.float32)
    assert np.mean(np.abs(z) > 5.0) > 0.05  # clip active
    return obs


def _flax_residual(ex: Exported, obs: np.ndarray) -> np.ndarray:
    @jax.jit
    def act(o: jax.Array) -> jax.Array:
        mean, _ = ex.policy.apply(ex.params, normalize_obs(ex.config, ex.normalizer, o))
        return jnp.clip(mean, -1.0, 1.0)

    return np.asarray(act(jnp.asarray(obs)))


def test_jax_export_matches_flax(exported: Exported) -> None:
    obs = _obs(exported)
    fn = jax.jit(export_policy_fn(*load_export(exported.path)))
    want = _flax_residual(exported, obs)
    assert np.abs(want).max() > 0.1  # a non-trivial head
    np.testing.assert_allclose(np.asarray(fn(obs)), want, rtol=0, atol=TOL)


def test_torch_matches_flax_and_total_action(exported: Exported) -> None:
    torch = pytest.importorskip("torch")
    from bridge.residual_torch import ResidualPolicy

    module = ResidualPolicy.from_export(exported.path)
    obs = _obs(exported)
    want = _flax_residual(exported, obs)
    with torch.no_grad():
        got = module(torch.from_numpy(obs))
    assert got.dtype == torch.float32 and tuple(got.shape) == (N_OBS, len(exported.spec.joint_names))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=TOL)

    base = np.array(jax.random.uniform(jax.random.PRNGKey(2), want.shape, minval=-1.0, maxval=1.0))
    want_total = np.asarray(combine(jnp.asarray(base), scale_residual(jnp.asarray(want), exported.spec.alpha)))
    with torch.no_grad():
        total = module.total_action(torch.from_numpy(obs), torch.from_numpy(base))
    np.testing.assert_allclose(total.numpy(), want_total, rtol=0, atol=TOL)

    delta = module.to_lerobot_delta(total).numpy()
    want_delta = sim_delta_to_lerobot(exported.spec.act_scale * want_total, JOINT_RANGES)
    np.testing.assert_allclose(delta, want_delta, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["ppo_groot", "sac_tanh"])
def test_exports_written_before_the_package_load(case: str) -> None:
    tensors, meta = load_export(os.path.join(REFERENCE_DIR, case))
    obs = np.random.default_rng(0).normal(size=(8, meta["obs_dim"])).astype(np.float32)
    residual = np.asarray(export_policy_fn(tensors, meta)(obs))
    assert residual.shape == (8, meta["action_dim"]) and np.abs(residual).max() <= 1.0
    assert np.abs(residual).max() > 0.05


def _loaders() -> list:
    loaders = [load_export]
    try:
        from bridge.residual_torch import ResidualPolicy
        loaders.append(ResidualPolicy.from_export)
    except ImportError:
        pass
    return loaders


def _rewrite_json(path: str, **changes: object) -> None:
    meta_path = os.path.join(path, META_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    meta.update(changes)
    with open(meta_path, "w") as f:
        json.dump(meta, f)


def test_load_errors(tmp_path: os.PathLike) -> None:
    ex = build_exported(tmp_path, "swish")
    tensors_path = os.path.join(ex.path, TENSORS_FILE)
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
