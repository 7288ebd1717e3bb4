"""Zero-copy JAX <-> torch through DLPack.

    t = jax_to_torch(x)      # jax.Array -> torch.Tensor sharing x's buffer (same device)
    x = torch_to_jax(t)      # torch.Tensor -> jax.Array sharing t's buffer (same device)

What is shared and what is copied:
- A single-device `jax.Array` always goes to torch without a copy (`torch.from_dlpack`). JAX
  buffers are dense row-major, so there is no layout to fix.
- A torch tensor goes to JAX without a copy (`jax.dlpack.from_dlpack`) when it is row-major
  contiguous and its data pointer is aligned as XLA needs (64 bytes on the CPU; fresh torch
  allocations are). Otherwise, with `copy=None` (the default), it is copied once: a non-contiguous
  tensor (a transpose, a column slice, an `expand`) by `.contiguous()` here, an unaligned one (a
  row slice such as `t[1:]`) by JAX. With `copy=False` both raise instead.
- `requires_grad` tensors are detached (no copy); the JAX side never sees gradients.

Dtypes: exactly the DLPack set that JAX supports, in both directions: bool, uint8/16/32/64,
int8/16/32/64, float16, bfloat16, float32, float64, complex64, complex128. bfloat16 and bool are
supported and zero-copy both ways. Unsupported (TypeError): float8 and int4 types, complex32,
quantised and other exotic torch dtypes. 64-bit dtypes (float64, int64, uint64, complex128) are
refused from torch unless `jax_enable_x64` is on, because JAX would otherwise silently copy and
downcast them to 32 bits; cast the tensor first (`t.float()`, `t.int()`).

Devices: CPU and CUDA, the device is kept (use `.to(...)`/`jax.device_put` yourself to move).
Streams on CUDA:
- JAX -> torch: the array is waited on (`block_until_ready`) before torch sees it, and
  `torch.from_dlpack` also hands torch's current stream to `x.__dlpack__(stream=...)`;
- torch -> JAX: `jax.dlpack.from_dlpack` passes JAX's stream to `t.__dlpack__(stream=...)`, and
  torch makes that stream wait on an event recorded on torch's current stream (the DLPack stream
  protocol). No host synchronisation is needed.

numpy -> JAX on the CPU: JAX shares a numpy array's memory (no copy) only when its data starts on
a 64-byte boundary; numpy's own allocations usually start 16 bytes off one, so `jnp.asarray` copies
them (about 120 ms for 1,024 images of 224 x 224 x 3 on a 2-core EPYC). `aligned_empty` allocates
numpy arrays that JAX takes as they are (e.g. camera images rendered on the host).

Aliasing: the two sides share memory. JAX treats arrays as immutable, so never write in place into
a tensor made by `jax_to_torch`, and do not mutate a tensor after `torch_to_jax` while the JAX
array is in use (the JAX array would see the change).
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before jax is imported)

import jax
import jax.dlpack
import numpy as np
import torch
from numpy.typing import DTypeLike

TORCH_TO_JAX_DTYPE: dict[torch.dtype, str] = {
    torch.bool: "bool", torch.uint8: "uint8", torch.uint16: "uint16", torch.uint32: "uint32",
    torch.uint64: "uint64", torch.int8: "int8", torch.int16: "int16", torch.int32: "int32",
    torch.int64: "int64", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.float32: "float32", torch.float64: "float64", torch.complex64: "complex64",
    torch.complex128: "complex128",
}
"""The dtypes that cross the bridge, with their JAX names."""
WIDE_DTYPES: frozenset[torch.dtype] = frozenset({torch.float64, torch.int64, torch.uint64, torch.complex128})
"""64-bit dtypes that JAX keeps only with jax_enable_x64."""
_SUPPORTED = ", ".join(sorted(TORCH_TO_JAX_DTYPE.values()))


def jax_to_torch(x: jax.Array) -> torch.Tensor:
    """A torch tensor sharing `x`'s buffer, same shape, dtype and device (no copy).

    Raises TypeError for a non-`jax.Array` (e.g. numpy: use `torch.from_numpy`), a tracer (this
    cannot run inside `jit`), or an unsupported dtype; ValueError for a deleted array or one that
    spans several devices.
    """
    if isinstance(x, jax.core.Tracer):
        raise TypeError("jax_to_torch got a tracer: it runs on concrete arrays, outside jit/vmap/grad")
    if not isinstance(x, jax.Array):
        hint = " (for numpy use torch.from_numpy)" if type(x).__module__ == "numpy" else ""
        raise TypeError(f"jax_to_torch expects a jax.Array, got {type(x).__name__}{hint}")
    if x.is_deleted():
        raise ValueError("jax_to_torch got a deleted (donated or freed) jax.Array")
    if len(x.devices()) != 1:
        raise ValueError(
            f"jax_to_torch needs an array on one device; this one spans {len(x.devices())} devices "
            "(sharded). Gather it first, e.g. jax.device_put(x, jax.devices()[0])."
        )
    if not jax.dlpack.is_supported_dtype(x.dtype):
        raise TypeError(f"dtype {x.dtype} cannot cross DLPack between JAX and torch; supported: {_SUPPORTED}")
    device = next(iter(x.devices()))
    if device.platform != "cpu":
        x.block_until_ready()
    return torch.from_dlpack(x)


def torch_to_jax(t: torch.Tensor, copy: bool | None = None) -> jax.Array:
    """A jax.Array sharing `t`'s buffer, same shape, dtype and device.

    copy: None (default) shares memory where possible and copies once where it must (a
    non-contiguous or unaligned tensor, see the module docstring); False raises ValueError instead
    of copying; True always copies.
    Raises TypeError for a non-tensor, an unsupported dtype (including 64-bit dtypes without
    jax_enable_x64) or an unsupported device (e.g. MPS).
    """
    if not isinstance(t, torch.Tensor):
        hint = " (for numpy use jnp.asarray)" if type(t).__module__ == "numpy" else ""
        raise TypeError(f"torch_to_jax expects a torch.Tensor, got {type(t).__name__}{hint}")
    if t.dtype not in TORCH_TO_JAX_DTYPE:
        raise TypeError(f"dtype {t.dtype} cannot cross DLPack between torch and JAX; supported: {_SUPPORTED}")
    if t.dtype in WIDE_DTYPES and not jax.config.jax_enable_x64:
        raise TypeError(
            f"{t.dtype} would be copied and downcast to 32 bits because jax_enable_x64 is off; "
            "cast the tensor first (e.g. t.float(), t.int()) or enable x64"
        )
    if t.device.type not in ("cpu", "cuda"):
        raise TypeError(f"torch_to_jax supports CPU and CUDA tensors, got device {t.device}")
    if t.requires_grad:
        t = t.detach()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    if not t.is_contiguous():
        if copy is False:
            raise ValueError(
                f"tensor of shape {tuple(t.shape)} with strides {t.stride()} is not contiguous, so "
                "sharing it needs a copy, but copy=False; call .contiguous() or allow copy=None"
            )
        t = t.contiguous()
    try:
        return jax.dlpack.from_dlpack(t, copy=copy)
    except RuntimeError as e:  # e.g. a CUDA tensor while JAX has no CUDA backend
        raise RuntimeError(f"JAX could not import the {t.device} tensor through DLPack: {e}") from e


XLA_CPU_ALIGNMENT: int = 64
"""Bytes: XLA on the CPU shares host memory that starts on this boundary, and copies the rest."""


def aligned_empty(shape: tuple[int, ...], dtype: DTypeLike = np.uint8,
                  alignment: int = XLA_CPU_ALIGNMENT) -> np.ndarray:
    """An uninitialised C-contiguous numpy array whose data starts on an `alignment`-byte boundary,
    so that `jnp.asarray` / `jax.dlpack.from_dlpack` on the CPU share it instead of copying it.

    JAX then aliases the numpy memory: do not write into the array while a JAX array made from it
    is in use."""
    if alignment < 1 or alignment & (alignment - 1):
        raise ValueError(f"alignment must be a power of two, got {alignment}")
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)
