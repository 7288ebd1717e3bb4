"""benchmarks.peers_fetch_sac: the tiny setting end to end (both trainers, both held-out curves), the
time-to-target reading of each curve, and one clear line for run directories that cannot be read."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import ast
import dataclasses
import inspect
import json

import pytest

from benchmarks import peers_fetch_sac as fs
from mjx_gr00t.errors import UsageError
from mjx_gr00t.time_to_target import time_to_target


@pytest.mark.slow
def test_quick_part_trains_both_sides_and_reads_their_held_out_curves(tmp_path) -> None:
    """Ours (train.residual_sac, 8 iterations, evaluated every 2) and SB3 (300 steps) at QUICK sizes."""
    q = fs.QUICK
    record = fs.run_fetch_sac(q, ours_out=str(tmp_path / "ours"))
    json.dumps(record)  # the record is JSON as it stands
    ours, sb3 = record["ours"], record["sb3"]
    assert record["target_success"] == q.target and record["hold"] == q.hold
    assert record["headline"] == f"held_{q.hold}_evals_s"
    # Ours: 4 envs x 2 steps per iteration, --total-steps 64: 8 iterations, evaluated at the start
    # (the initial policy) and at 2, 4, 6, 8.
    assert ours["made_here"] and ours["stopped_by"] == "steps" and ours["env_steps"] == q.ours_max_steps
    assert len(ours["curve"]) == 5 and ours["curve"][0][0] < ours["curve"][1][0] and ours["args"]["eval_every"] == q.ours_eval_every
    assert ours["args"]["eval_every_episodes"] == q.eval_episodes and ours["args"]["base"] == "zero"
    assert ours["eval_wall_s"] > 0
    # SB3: its step cap, evaluated at least every 1 s of training and once at the end.
    assert sb3["stopped_by"] == "steps" and sb3["env_steps"] == q.sb3_max_steps and sb3["python_flags"] == "-O"
    assert sb3["env"] == "FetchPickAndPlace-v4" and sb3["torch_threads"] == q.sb3_torch_threads
    assert sb3["hyperparameters"]["batch_size"] == q.sb3_batch_size
    assert sb3["curve"][-1][0] == pytest.approx(sb3["wall_s"])
    for side in (ours, sb3):
        times = [t for t, _ in side["curve"]]
        assert times == sorted(times) and 0 < times[-1] <= side["wall_s"]
        assert all(0.0 <= v <= 1.0 for _, v in side["curve"])
        assert side["final_success"] == side["curve"][-1][1]
        assert side["time_to_target"] == time_to_target([tuple(p) for p in side["curve"]], q.target, q.hold)
        assert side["env_steps_per_s"] == pytest.approx(side["env_steps"] / side["wall_s"])
    assert record["env_steps_per_s_ratio"] == pytest.approx(ours["env_steps_per_s"] / sb3["env_steps_per_s"])
    # The run directory made here reads back the same (as --ours would give it).
    again = fs.read_ours(str(tmp_path / "ours"))
    assert again["curve"] == ours["curve"] and again["env_steps"] == ours["env_steps"]


def _side(curve: list[tuple[float, float]], wall_s: float) -> dict:
    return {"curve": [list(p) for p in curve], "env_steps": 1000, "wall_s": wall_s, "env_steps_per_s": 1000 / wall_s}


def test_compare_counts_a_target_only_once_it_holds() -> None:
    s = fs.FetchSacSettings(target=0.9, hold=3)
    # Ours spikes to 0.95 at 10 s, falls back, then holds from 30 s; SB3 holds from 100 s.
    ours = [(10.0, 0.95), (20.0, 0.2), (30.0, 0.92), (40.0, 0.93), (50.0, 0.91)]
    sb3 = [(50.0, 0.5), (100.0, 0.9), (200.0, 0.95), (300.0, 0.97)]
    record = fs.compare(s, _side(ours, 50.0), _side(sb3, 300.0))
    assert record["ours"]["time_to_target"] == time_to_target(ours, 0.9, 3)
    assert record["ours"]["time_to_target"]["held_3_evals_s"] == 30.0
    assert record["ours"]["time_to_target"]["first_crossing_s (not held; for reference only)"] == 10.0
    assert record["sb3"]["time_to_target"]["held_3_evals_s"] == 100.0
    assert record["time_to_target_ratio_sb3_vs_ours"] == pytest.approx(100.0 / 30.0)
    assert record["ratio_bound"] is None and record["ours"]["final_success"] == 0.91
    # SB3 never holds the target: no ratio, and a lower bound from its whole run.
    never = [(100.0, 0.95), (200.0, 0.5), (300.0, 0.95), (400.0, 0.95)]
    record = fs.compare(s, _side(ours, 50.0), _side(never, 400.0))
    assert record["sb3"]["time_to_target"]["held_3_evals_s"] is None
    assert record["time_to_target_ratio_sb3_vs_ours"] is None
    # At the earliest SB3 could have held it from 300 s, the start of its final run above 0.9.
    assert record["ratio_bound"]["ratio_at_least"] == pytest.approx(300.0 / 30.0)


def _run_dir(path, metrics: list[dict] | None, algo: str = "sac", **extra) -> str:
    path.mkdir()
    run = {"algo": algo, "args": {"scene": "fetch_pick_place", "base": "zero"}, **extra}
    (path / "run.json").write_text(json.dumps(run))
    if metrics is not None:
        (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics))
    return str(path)


def _line(excinfo: pytest.ExceptionInfo) -> str:
    message = excinfo.value.message
    assert "\n" not in message
    return message


def test_bad_run_dirs_get_one_clear_line(tmp_path) -> None:
    record = lambda steps, t, **kw: {"env_steps": steps, "time/wall_s": t, **kw}  # noqa: E731
    evaluated = [record(256, 1.0, **{"eval/success_rate": 0.5}), record(512, 2.0, **{"eval/success_rate": 0.6})]
    assert fs.read_ours(_run_dir(tmp_path / "good", evaluated))["curve"] == [[1.0, 0.5], [2.0, 0.6]]
    cases = [
        (_run_dir(tmp_path / "no_metrics", None), "has no training metrics"),
        (_run_dir(tmp_path / "empty_metrics", []), "has no training metrics"),
        (_run_dir(tmp_path / "resumed", [*evaluated, record(256, 1.5)]), "was run with --resume"),
        (_run_dir(tmp_path / "changed", evaluated, changed_on_resume=[{"total_steps": {}}]), "was run with --resume"),
        (_run_dir(tmp_path / "resumed_run_json", evaluated, resumes=[{"env_steps": 8}]), "was run with --resume"),
        (_run_dir(tmp_path / "no_eval", [record(256, 1.0)]), "train it with --eval-every N"),
        (_run_dir(tmp_path / "ppo", evaluated, algo="ppo"), "pass a train.residual_sac run on fetch_pick_place"),
        (str(tmp_path / "missing"), "does not exist"),
    ]
    for path, match in cases:
        with pytest.raises(UsageError) as excinfo:
            fs.run_fetch_sac(fs.QUICK, ours=path)
        assert match in _line(excinfo), path
    # A run made here never lands on an existing directory (whose old metrics would be read).
    with pytest.raises(UsageError) as excinfo:
        fs.run_fetch_sac(fs.QUICK, ours_out=str(tmp_path / "good"))
    assert "already exists; choose a new directory" in _line(excinfo)


def test_bad_settings_get_one_clear_line() -> None:
    for change, match in [({"minutes": 0}, "--minutes must be > 0"), ({"target": 1.5}, "--target must be in (0, 1]"),
                          ({"hold": 0}, "--hold must be >= 1"), ({"sb3_net_arch": ()}, "--sb3-net-arch"),
                          ({"ours_flags": "--num-envs 0"}, "--num-envs")]:
        with pytest.raises(UsageError) as excinfo:
            fs.run_fetch_sac(fs.QUICK, **change)
        assert match in _line(excinfo)


def test_every_setting_is_documented_in_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        fs.main(["-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    body = ast.parse(inspect.getsource(fs.FetchSacSettings)).body[0].body
    documented = {stmt.target.id for stmt, doc in zip(body, body[1:])
                  if isinstance(stmt, ast.AnnAssign) and isinstance(doc, ast.Expr)
                  and isinstance(doc.value, ast.Constant)}
    fields = {f.name for f in dataclasses.fields(fs.FetchSacSettings)}
    assert documented == fields
    for name in fields:
        assert f"--{name.replace('_', '-')}" in text, name
