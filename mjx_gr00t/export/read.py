"""Reads an export back: the tensors and residual.json checked against each other, and the
deterministic residual rebuilt in JAX from them (the torch twin is bridge/residual_torch.py).

    tensors, meta = load_export(DIR)
    residual = export_policy_fn(tensors, meta)(obs)   # obs [..., obs_dim] -> [..., A] in [-1, 1]
"""

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from mjx_gr00t.export.format import META_FILE, TENSORS_FILE, read_meta
from mjx_gr00t.rl.networks import get_activation


def load_export(export_dir: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, meta) from a directory written by `mjx_gr00t.export.write.write_export`.

    Raises FileNotFoundError naming a missing directory or file, and ValueError for an unknown format
    version, a tensor file that does not match the json's checksum or cannot be read, or missing or
    misshapen tensors.
    """
    meta = read_meta(export_dir)
    meta_path = os.path.join(export_dir, META_FILE)
    tensors_path = os.path.join(export_dir, TENSORS_FILE)
    with open(tensors_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if sha != meta.get("tensors_sha256"):
        raise ValueError(
            f"{tensors_path!r} does not match the checksum in {meta_path!r} (corrupted or from another export)"
        )
    try:
        tensors = load_file(tensors_path)
    except SafetensorError as e:
        raise ValueError(f"cannot read {tensors_path!r}: {e}") from e
    expected: dict[str, tuple[int, ...]] = {
        "obs_mean": (meta["obs_dim"],), "obs_std": (meta["obs_dim"],),
    }
    for layer in meta["network"]["layers"]:
        expected[layer["kernel"]] = (layer["in"], layer["out"])
        expected[layer["bias"]] = (layer["out"],)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise ValueError(f"{tensors_path!r} lacks tensors {missing}")
    wrong = {k: (tensors[k].shape, s) for k, s in expected.items() if tensors[k].shape != s}
    if wrong:
        raise ValueError(f"{tensors_path!r} has tensors of the wrong shape (got, expected): {wrong}")
    return tensors, meta


def export_policy_fn(tensors: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Callable[[jax.Array], jax.Array]:
    """The deterministic residual from exported tensors: obs [..., obs_dim] -> residual [..., A] in [-1, 1].

    Equals `clip(GaussianPolicy.apply(params, networks.normalize_obs(config, normalizer, obs))[0], -1, 1)`.
    """
    net, norm = meta["network"], meta["normalizer"]
    activation = get_activation(net["activation"])
    layers = [(jnp.asarray(tensors[lay["kernel"]]), jnp.asarray(tensors[lay["bias"]])) for lay in net["layers"]]
    mean, std = jnp.asarray(tensors["obs_mean"]), jnp.asarray(tensors["obs_std"])
    enabled, obs_clip = bool(norm["enabled"]), norm["obs_clip"]
    tanh = net.get("output_squash", "clip") == "tanh"

    def policy(obs: jax.Array) -> jax.Array:
        x = jnp.asarray(obs, jnp.float32)
        if enabled:
            x = (x - mean) / std
            if obs_clip is not None:
                x = jnp.clip(x, -obs_clip, obs_clip)
        for i, (kernel, bias) in enumerate(layers):
            x = jnp.dot(x, kernel) + bias
            if i < len(layers) - 1:
                x = activation(x)
        if tanh:
            x = jnp.tanh(x)
        return jnp.clip(x, -1.0, 1.0)

    return policy
