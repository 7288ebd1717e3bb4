"""Host callbacks that hold state (a MuJoCo thread pool, MjData buffers, a GL context, a torch
model) must not run twice at once.

Under a grid split over several devices, XLA runs each device's shard of a `jax.pure_callback` on
its own thread, so two calls can reach the same host object together. `one_at_a_time` wraps the
host function in a per-object lock; the calls then run in turn, each still batched.
"""

import functools
import threading
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def one_at_a_time(fn: F, lock: "threading.Lock | None" = None) -> F:
    """`fn` behind `lock` (a fresh one when None): concurrent callers wait their turn."""
    lock = lock or threading.Lock()

    @functools.wraps(fn)
    def serialised(*args, **kwargs):
        with lock:
            return fn(*args, **kwargs)

    return serialised  # type: ignore[return-value]
