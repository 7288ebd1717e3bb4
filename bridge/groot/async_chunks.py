"""GR00T as a deployed base: chunks planned in the background while the current one executes.

    chunks = AsyncChunks(plan, n_action_steps=8, horizon=16, max_age_s=1.0)
    chunks.start_episode()
    target = chunks.tick(observation, now)      # (6,) rad joint target for this tick, or None (hold)

`plan(observation) -> (horizon, 6)` is the blocking query (in process, `GrootBase.plan` on one
frame pair; or a ZMQ client). As GR00T's robot clients do, the loop never waits for it: a request
carries the observation of the tick it was made at; when its chunk arrives, execution continues in
it at the element for the current tick (ticks since the request), and the next request goes out
once `n_action_steps` elements of a chunk have been used. Until the first chunk of an episode
arrives, and whenever the chunk in use is older than `max_age_s` or used up, `tick` returns None
and counts a fault (`no_base_yet`, `stale_base`): the loop then holds position. A query that raises
is a fault too (`base_failed`); the next tick asks again, and `max_failures` in a row raise
`BaseNotAnswering` (a server that times out), which ends the deployment with the arm holding.
"""

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mjx_gr00t.deploy.loop import BaseNotAnswering

FAULTS: tuple[str, ...] = ("no_base_yet", "stale_base", "base_failed")


@dataclasses.dataclass
class _Chunk:
    actions: np.ndarray  # (horizon, J) rad
    tick: int  # the tick whose observation it was planned from
    time: float  # when that observation was taken, s


class AsyncChunks:
    """See the module docstring. One background thread; not thread-safe itself."""

    def __init__(self, plan: Callable[[dict[str, Any]], np.ndarray], n_action_steps: int, horizon: int,
                 max_age_s: float = 1.0, clock: Callable[[], float] = time.perf_counter,
                 max_failures: int = 3) -> None:
        if not 1 <= n_action_steps <= horizon:
            raise ValueError(f"n_action_steps must be in 1..{horizon}, got {n_action_steps}")
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0, got {max_age_s}")
        self.plan, self.n_action_steps, self.horizon = plan, n_action_steps, horizon
        self.max_age_s, self.clock, self.max_failures = max_age_s, clock, max_failures
        self._failures = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="groot-async")
        self.faults = dict.fromkeys(FAULTS, 0)
        self.latencies_s: list[float] = []
        self.last_fault: str | None = None
        self.start_episode()

    def start_episode(self) -> None:
        """Forgets the chunk in use; a query still running is left to finish and then dropped."""
        self._chunk: _Chunk | None = None
        self._pending: tuple[concurrent.futures.Future, int, float] | None = None
        self._tick = 0
        self._episode_token = object()

    def _request(self, observation: dict[str, Any], now: float) -> None:
        token = self._episode_token
        self._pending = (self._pool.submit(self._timed, observation, token), self._tick, now)

    def _timed(self, observation: dict[str, Any], token: object) -> tuple[np.ndarray, float, object]:
        t0 = time.perf_counter()
        chunk = np.asarray(self.plan(observation), np.float64)
        return chunk, time.perf_counter() - t0, token

    def tick(self, observation: dict[str, Any], now: float | None = None) -> np.ndarray | None:
        """This tick's joint target (J,) rad from the chunk in use, or None (hold; a fault counted)."""
        now = self.clock() if now is None else now
        if self._pending is not None and self._pending[0].done():
            future, tick, taken = self._pending
            self._pending = None
            try:
                chunk, latency, token = future.result()
            except Exception as e:  # noqa: BLE001  (a failed query: hold, count it, ask again)
                self.faults["base_failed"] += 1
                self._failures += 1
                if self._failures >= self.max_failures:
                    raise BaseNotAnswering(f"the GR00T base failed {self._failures} queries in a row "
                                           f"({type(e).__name__}: {e})") from e
            else:
                self._failures = 0
                if token is self._episode_token:
                    if chunk.shape[0] != self.horizon:
                        raise ValueError(f"the base planned {chunk.shape[0]} steps, expected {self.horizon}")
                    self._chunk = _Chunk(chunk, tick, taken)
                    self.latencies_s.append(latency)
        index = None if self._chunk is None else self._tick - self._chunk.tick
        if self._pending is None and (index is None or index >= self.n_action_steps - 1):
            self._request(observation, now)
        self._tick += 1
        if self._chunk is None:
            return self._fault("no_base_yet")
        if index >= self.horizon or now - self._chunk.time > self.max_age_s:
            return self._fault("stale_base")
        self.last_fault = None
        return self._chunk.actions[index]

    def _fault(self, name: str) -> None:
        self.faults[name] += 1
        self.last_fault = name
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
