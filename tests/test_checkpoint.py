"""Tests for mjx_gr00t.checkpoint: exact round trips, pruning, crash leftovers, config checks, errors."""

import os
import shutil
import signal
from pathlib import Path
from typing import Any, NamedTuple

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

from mjx_gr00t.checkpoint import Checkpointer, ConfigMismatchError

CONFIG: dict[str, Any] = {
    "env": "lift", "seed": 0, "lr": 3e-4, "total_steps": 1000, "net": {"hidden": [64, 64]},
}


class Norm(NamedTuple):
    mean: jax.Array
    var: jax.Array
    count: jax.Array


@struct.dataclass
class TrainState:
    params: dict[str, jax.Array]
    opt_state: Any
    norm: Norm
    key: jax.Array
    step: jax.Array
    updates: int
    env_steps: np.ndarray
    lr_scale: float


def make_state(seed: int) -> TrainState:
    """A small train state whose values all depend on `seed`."""
    k = jax.random.PRNGKey(seed)
    k1, k2, k3 = jax.random.split(k, 3)
    params = {
        "w": jax.random.normal(k1, (4, 3)),
        "b": jax.random.normal(k2, (3,)),
        "ids": jnp.arange(5, dtype=jnp.int32) * seed,
    }
    opt_state = optax.adam(1e-3).init(params)
    norm = Norm(jax.random.uniform(k3, (4,)), jnp.full((4,), 1.0 + seed, jnp.float32), jnp.int32(7 * seed))
    key = jax.random.fold_in(k, 123)
    env_steps = np.uint32(2**32 - 1 - seed)
    return TrainState(params, opt_state, norm, key, jnp.int32(seed), seed, env_steps, 0.5 + seed)


def assert_bitwise_equal(a: Any, b: Any) -> None:
    """Same pytree structure, leaf types, dtypes, shapes and bytes."""
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        both_jax = isinstance(x, jax.Array) and isinstance(y, jax.Array)
        assert type(x) is type(y) or both_jax, (type(x), type(y))
        if isinstance(x, (int, float)):
            assert x == y
            continue
        xa, ya = np.asarray(x), np.asarray(y)
        assert xa.dtype == ya.dtype and xa.shape == ya.shape
        assert xa.tobytes() == ya.tobytes()


def test_round_trip_is_bitwise(tmp_path: Path) -> None:
    state = make_state(3)
    with Checkpointer(tmp_path / "ck", config=CONFIG) as ck:
        assert ck.latest_step() is None
        ck.save(10, state)
        assert ck.latest_step() == 10
    with Checkpointer(tmp_path / "ck", config=CONFIG) as ck:
        restored = ck.restore(make_state(0))
        assert_bitwise_equal(restored, state)
        assert isinstance(restored, TrainState) and isinstance(restored.norm, Norm)
        assert restored.key.dtype == jnp.uint32 and restored.norm.count.dtype == jnp.int32
        assert isinstance(restored.env_steps, np.uint32) and restored.updates == 3
        assert ck.saved_config() == CONFIG
        # An abstract target (shapes and dtypes only, as from jax.eval_shape) works too and gives jax arrays.
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype) if isinstance(x, jax.Array) else x, make_state(0)
        )
        assert_bitwise_equal(ck.restore(abstract), state)


def test_restored_state_does_not_recompile_a_jitted_step(tmp_path: Path) -> None:
    """Restored arrays are placed as the target's were (uncommitted), so resume reuses the compile."""
    compiles = []

    @jax.jit
    def step(s: TrainState) -> jax.Array:
        compiles.append(1)
        return s.params["w"].sum() + s.norm.mean.sum() + s.step

    fresh = make_state(1)
    step(fresh)
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(2))
        restored = ck.restore(fresh)
    assert not any(x.committed for x in jax.tree.leaves(restored) if isinstance(x, jax.Array))
    step(restored)
    assert len(compiles) == 1
    # A target placed explicitly on a device keeps that placement.
    placed = jax.tree.map(lambda x: jax.device_put(x, jax.devices()[0]) if isinstance(x, jax.Array) else x, fresh)
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        again = ck.restore(placed)
    assert all(x.committed for x in jax.tree.leaves(again) if isinstance(x, jax.Array))


def test_restore_specific_step_and_pruning(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, max_to_keep=2, config=CONFIG) as ck:
        for step in (1, 2, 3):
            ck.save(step, make_state(step))
        assert ck.all_steps() == [2, 3]
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["2", "3"]
        assert_bitwise_equal(ck.restore(make_state(0), step=2), make_state(2))
        assert_bitwise_equal(ck.restore(make_state(0)), make_state(3))
        with pytest.raises(FileNotFoundError, match="step 1"):
            ck.restore(make_state(0), step=1)


def test_half_written_checkpoints_are_skipped(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(1))
        ck.save(2, make_state(2))
    # A crash during orbax's write leaves a temporary directory, without its commit marker.
    tmp = tmp_path / "3.orbax-checkpoint-tmp-1700000000000000"
    shutil.copytree(tmp_path / "2", tmp)
    (tmp / "commit_success.txt").unlink()
    shutil.rmtree(tmp / "state" / "d")
    # A step directory written in place (non-atomic copy, or a crash) lacking commit marker / metadata.
    shutil.copytree(tmp_path / "2", tmp_path / "3")
    (tmp_path / "3" / "commit_success.txt").unlink()
    shutil.rmtree(tmp_path / "3" / "state" / "d")
    shutil.copytree(tmp_path / "2", tmp_path / "4")
    (tmp_path / "4" / "_CHECKPOINT_METADATA").unlink()
    (tmp_path / "5").mkdir()

    ck = Checkpointer(tmp_path, config=CONFIG)
    assert ck.latest_step() == 2 and ck.all_steps() == [1, 2]
    assert_bitwise_equal(ck.restore(make_state(0)), make_state(2))
    with pytest.raises(FileNotFoundError):
        ck.restore(make_state(0), step=3)
    # Resuming and saving step 3 again moves the broken directory aside instead of failing.
    ck.save(3, make_state(33))
    assert ck.latest_step() == 3
    assert not tmp.exists()  # orbax deletes crashed saves' temporary directories (done by the first save)
    assert_bitwise_equal(ck.restore(make_state(0)), make_state(33))
    assert any(p.name.startswith("3.incomplete-") for p in tmp_path.iterdir())
    ck.close()


def test_config_mismatch(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(1))
        ck.check_config(CONFIG)
        current = {**CONFIG, "seed": 1, "total_steps": 5000, "net": {"hidden": [32]}, "extra": True}
        with pytest.raises(ConfigMismatchError) as info:
            ck.check_config(current, ignore=("total_steps",))
        msg = str(info.value)
        assert isinstance(info.value, ValueError) and "\n" not in msg
        assert "seed: saved 0 vs current 1" in msg
        assert "net.hidden: saved [64, 64] vs current [32]" in msg
        assert "extra: saved '<missing>' vs current True" in msg
        assert "total_steps" not in msg and "--out" in msg
        ck.check_config({**CONFIG, "total_steps": 5000}, ignore=["total_steps"])


def test_settings_added_later_match_when_left_at_their_default(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(1))
        ck.check_config({**CONFIG, "new_flag": 8}, defaults={"new_flag": 8, "seed": 3})
        with pytest.raises(ConfigMismatchError, match="new_flag: saved '<missing>' vs current 9"):
            ck.check_config({**CONFIG, "new_flag": 9}, defaults={"new_flag": 8})
        with pytest.raises(ConfigMismatchError, match="seed: saved 0 vs current 3"):  # only absent keys
            ck.check_config({**CONFIG, "seed": 3}, defaults={"seed": 3})


def test_layout_mismatch_is_one_clear_error(tmp_path: Path) -> None:
    """A state with leaves the checkpoint lacks (or the other way round), as after a code change."""
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(1))
        grown = make_state(0).replace(params={**make_state(0).params, "extra": jnp.zeros(2)})
        with pytest.raises(ValueError) as info:
            ck.restore(grown)
        msg = str(info.value)
        assert "not in the checkpoint: params.extra" in msg and "not expected" not in msg
        assert "new --out" in msg and "\n" not in msg
        shrunk = make_state(0).replace(params={k: v for k, v in make_state(0).params.items() if k != "b"})
        with pytest.raises(ValueError, match="not expected: params.b"):
            ck.restore(shrunk)
        assert_bitwise_equal(ck.restore(make_state(0)), make_state(1))


def test_missing_checkpoint_errors(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path / "empty", config=CONFIG)
    with pytest.raises(FileNotFoundError, match="empty"):
        ck.restore(make_state(0))
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        ck.saved_config()
    ck.close()


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(1, make_state(1))
        target = make_state(0).replace(norm=Norm(jnp.zeros(5), jnp.zeros(4, jnp.float32), jnp.int32(0)))
        with pytest.raises(ValueError, match=r"norm\.mean: saved float32\[4\] vs target float32\[5\]"):
            ck.restore(target)
        # Orbax would silently cast to the target dtype, which breaks exact resumption: refused.
        with pytest.raises(ValueError, match=r"step: saved int32\[\] vs target float32\[\]"):
            ck.restore(make_state(0).replace(step=jnp.float32(0)))


def test_read_only_checkpointer(tmp_path: Path) -> None:
    with Checkpointer(tmp_path, config=CONFIG) as ck:
        ck.save(4, make_state(4))
    with Checkpointer(tmp_path, read_only=True) as ro:
        assert ro.latest_step() == 4 and ro.saved_config() == CONFIG
        assert_bitwise_equal(ro.restore(make_state(0)), make_state(4))
        with pytest.raises(PermissionError, match="read-only"):
            ro.save(5, make_state(5))
    with Checkpointer(tmp_path / "nothing", read_only=True) as ro:
        assert ro.latest_step() is None
        assert not (tmp_path / "nothing").exists()


def test_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="cannot write checkpoints to .*a_file/sub"):
        Checkpointer(blocker / "sub", config=CONFIG)


def test_read_only_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: file permissions do not block writes")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="cannot write checkpoints"):
            Checkpointer(ro, config=CONFIG)
    finally:
        ro.chmod(0o700)


def test_ctrl_c_during_save_finishes_the_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, default_sigint: None) -> None:
    ck = Checkpointer(tmp_path, config=CONFIG)
    real_save = ck._mgr.save

    def interrupted_save(*args: Any, **kwargs: Any) -> bool:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while orbax writes
        return real_save(*args, **kwargs)

    monkeypatch.setattr(ck._mgr, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        ck.save(1, make_state(1))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert ck.latest_step() == 1
    assert_bitwise_equal(ck.restore(make_state(0)), make_state(1))
    ck.close()
