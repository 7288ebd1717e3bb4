"""bridge.dlpack: zero-copy both ways (pointer equality), dtypes, aliasing, layouts, clear errors."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from bridge.dlpack import jax_to_torch, torch_to_jax

ROUND_TRIP = [torch.float32, torch.int32, torch.uint8, torch.bool, torch.bfloat16, torch.float16, torch.int8]


def _values(dtype: torch.dtype, shape: tuple[int, ...] = (64, 8)) -> torch.Tensor:
    t = torch.arange(int(np.prod(shape))).reshape(shape) % 7
    return (t > 3) if dtype == torch.bool else t.to(dtype)


@pytest.mark.parametrize("dtype", ROUND_TRIP)
def test_jax_to_torch_shares_the_buffer(dtype: torch.dtype) -> None:
    x = torch_to_jax(_values(dtype)).copy()  # an array JAX allocated itself
    t = jax_to_torch(x)
    assert t.data_ptr() == x.unsafe_buffer_pointer()
    assert t.dtype == dtype and tuple(t.shape) == x.shape and t.device.type == "cpu"
    np.testing.assert_array_equal(t.float().numpy(), np.asarray(x, np.float32))


@pytest.mark.parametrize("dtype", ROUND_TRIP)
def test_torch_to_jax_shares_the_buffer_and_round_trips(dtype: torch.dtype) -> None:
    t = _values(dtype)
    x = torch_to_jax(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    assert x.dtype == jnp.dtype(str(dtype).removeprefix("torch.")) and x.shape == tuple(t.shape)
    back = jax_to_torch(x)
    assert back.data_ptr() == t.data_ptr() and back.dtype == dtype
    assert torch.equal(back, t)


def test_torch_mutation_is_visible_in_jax() -> None:
    t = torch.zeros(64, dtype=torch.float32)
    x = torch_to_jax(t)
    t[3] = 5.0
    assert float(x[3]) == 5.0 and float(jnp.sum(x)) == 5.0


def test_scalars_and_empty_arrays() -> None:
    assert float(torch_to_jax(torch.tensor(2.5))) == 2.5
    assert jax_to_torch(jnp.float32(1.5)).item() == 1.5
    assert torch_to_jax(torch.zeros(0, 3)).shape == (0, 3)
    assert jax_to_torch(jnp.zeros((0, 3))).shape == (0, 3)


def test_non_contiguous_tensors_are_copied_once_or_refused() -> None:
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    for view in (base.T, base[:, 1:3], base[:1].expand(4, 8)):
        x = torch_to_jax(view)
        np.testing.assert_array_equal(np.asarray(x), view.numpy())
        assert x.unsafe_buffer_pointer() != base.data_ptr()
        with pytest.raises(ValueError, match="not contiguous"):
            torch_to_jax(view, copy=False)


def test_unaligned_views_are_copied_or_refused() -> None:
    base = torch.arange(48, dtype=torch.float32).reshape(6, 8)
    row = base[1:]  # contiguous, but 32 bytes past a 64-byte boundary
    np.testing.assert_array_equal(np.asarray(torch_to_jax(row)), row.numpy())
    with pytest.raises(ValueError, match="aligned"):
        torch_to_jax(row, copy=False)


def test_requires_grad_is_detached_without_copy() -> None:
    t = torch.ones(8, requires_grad=True)
    assert torch_to_jax(t).unsafe_buffer_pointer() == t.data_ptr()


def test_jax_slices_are_zero_copy_results() -> None:
    x = jnp.arange(10.0)[2:]  # a new JAX buffer, dense
    t = jax_to_torch(x)
    assert t.data_ptr() == x.unsafe_buffer_pointer() and t[0].item() == 2.0


def test_unsupported_inputs_raise_clear_errors() -> None:
    with pytest.raises(TypeError, match="jax_enable_x64"):
        torch_to_jax(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="jax_enable_x64"):
        torch_to_jax(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="cannot cross DLPack"):
        torch_to_jax(torch.zeros(3, dtype=torch.float8_e4m3fn))
    with pytest.raises(TypeError, match="cannot cross DLPack"):
        jax_to_torch(jnp.zeros(4, jnp.int4))
    with pytest.raises(TypeError, match="torch.from_numpy"):
        jax_to_torch(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="jnp.asarray"):
        torch_to_jax(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="CPU and CUDA"):
        torch_to_jax(torch.zeros(3, device="meta"))
    with pytest.raises(TypeError, match="tracer"):
        jax.jit(jax_to_torch)(jnp.zeros(3))
    x = jnp.ones(3)
    x.delete()
    with pytest.raises(ValueError, match="deleted"):
        jax_to_torch(x)


def _cuda_for_both() -> bool:
    try:
        return torch.cuda.is_available() and bool(jax.devices("cuda"))
    except RuntimeError:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_for_both(), reason="needs CUDA in both torch and JAX")
def test_cuda_zero_copy_both_ways() -> None:
    x = jax.device_put(jnp.arange(1024.0), jax.devices("cuda")[0]) * 2
    t = jax_to_torch(x)
    assert t.device.type == "cuda" and t.data_ptr() == x.unsafe_buffer_pointer()
    assert torch.equal(t, torch.arange(1024.0, device=t.device) * 2)
    u = torch.arange(1024.0, device="cuda") + 1  # queued on torch's stream
    y = torch_to_jax(u)
    assert y.unsafe_buffer_pointer() == u.data_ptr()
    np.testing.assert_array_equal(np.asarray(y), np.arange(1024.0) + 1)
