"""Shared fixtures: for the GR00T bridge tests (torch is imported only by the tests that use them),
and a default SIGINT handler for the Ctrl-C tests."""

import signal
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for a test module: two torch threads on a 2-core machine shared with
    JAX and other jobs run up to ~40x slower, and one thread keeps the model's bits reproducible."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny GR00T-contract checkpoint (bridge.tiny, seed 0, so100_dualcam keys) for a test module."""
    from bridge import tiny_checkpoint

    return tiny_checkpoint.write_checkpoint(str(tmp_path_factory.mktemp("tiny_groot")), seed=0)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's default SIGINT handler (KeyboardInterrupt) for the test, whatever the runner set
    (a CI job started with nohup or in the background ignores SIGINT); the old handler after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
