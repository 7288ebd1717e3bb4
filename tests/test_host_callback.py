"""one_at_a_time (mjx_gr00t.host_callback): concurrent callers run in turn, results and errors pass through."""

import threading
import time

import pytest

from mjx_gr00t.host_callback import one_at_a_time


def test_concurrent_calls_never_overlap():
    inside, overlaps = [0], [0]

    def host(x):
        inside[0] += 1
        if inside[0] > 1:
            overlaps[0] += 1
        time.sleep(0.002)  # long enough that unserialised threads would meet here
        inside[0] -= 1
        return 2 * x

    serial = one_at_a_time(host)
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.extend(serial(i) for _ in range(10))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps[0] == 0
    assert sorted(results) == sorted(2 * i for i in range(4) for _ in range(10))
    assert serial.__name__ == "host"


def test_an_error_releases_the_lock():
    def host():
        raise ValueError("bad frame")

    serial = one_at_a_time(host)
    for _ in range(2):  # a held lock would block the second call for ever
        with pytest.raises(ValueError, match="bad frame"):
            serial()
