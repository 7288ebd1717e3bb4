"""train.loop's Ctrl-C handling: a flag the loop checks between iterations, not an exception raised
wherever the signal lands (which could interrupt an orbax save half way)."""

import os
import signal

import mjx_gr00t  # noqa: F401  (sets XLA flags before jax is imported)

import pytest

from mjx_gr00t.runner.loop import ctrl_c_requests


def test_first_ctrl_c_sets_the_flag_second_aborts_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGINT)
    with ctrl_c_requests() as ctrl_c:
        assert not ctrl_c.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        assert ctrl_c.is_set()  # no KeyboardInterrupt: the loop finishes its iteration and saves
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
