"""What the sweep tests of every algorithm check alike: reading a finished sweep's records, and that a
sweep stopped after 3 iterations and resumed ends exactly as the uninterrupted one."""

import dataclasses
import json
import os
from typing import Any

import jax
import numpy as np

from mjx_gr00t.sweep.plan import make_plan
from mjx_gr00t.sweep.program import build_program
from mjx_gr00t.sweep.run import run
from mjx_gr00t.sweep.settings import SweepSettings
from mjx_gr00t.sweep.train import checkpointer


def finished_sweep(tmp_path_factory: Any, settings: SweepSettings, name: str) -> str:
    """The directory of `settings` run to its end in a fresh temporary directory called `name`."""
    out = str(tmp_path_factory.mktemp(name) / "whole")
    run(dataclasses.replace(settings, out=out))
    return out


def read(out: str) -> tuple[dict, dict]:
    """(summary.json, progress.json) of the sweep in `out`."""
    with open(os.path.join(out, "summary.json")) as f, open(os.path.join(out, "progress.json")) as g:
        return json.load(f), json.load(g)


def assert_resumes_exactly(settings: SweepSettings, whole: str, out: str) -> dict[str, Any]:
    """Runs `settings` into `out` stopped after 3 iterations, resumes it, and asserts its curves, final
    evaluations, stops and last checkpoint equal those of the uninterrupted sweep in `whole`.
    Returns the resumed sweep's summary."""
    assert run(dataclasses.replace(settings, out=out, stop_after=3)) == {}
    with open(os.path.join(out, "progress.json")) as f:
        partial = json.load(f)
    assert partial["groups"][0]["iteration"] == 3 and not partial["groups"][0]["done"]
    summary = run(SweepSettings(resume=out))
    (_, want), (_, got) = read(whole), read(out)
    for a, b in zip(want["runs"], got["runs"], strict=True):
        assert [(s, v) for _, s, v in a["curve"]] == [(s, v) for _, s, v in b["curve"]]
        assert a["final"]["successes"] == b["final"]["successes"] and a["stopped"][:5] == b["stopped"][:5]
    plan = make_plan(settings)
    target = build_program(plan.groups[0]).init(plan.runs[:1])
    finished = [checkpointer(d, 0).restore(target) for d in (whole, out)]
    for a, b in zip(jax.tree.leaves(finished[0]), jax.tree.leaves(finished[1]), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    return summary
