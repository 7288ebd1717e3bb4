"""`python -m train.residual_sac` end to end on a tiny config: outputs, exact resume (replay buffer
included), evaluate/export on a SAC run, and the bad-input errors the SAC issue names."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import json
import time

import jax
import numpy as np
import pytest

from bridge.groot import planner
from bridge.residual_torch import ResidualPolicy
from mjx_gr00t.checkpoint import Checkpointer
from train import evaluate as evaluate_cli
from train import residual_sac
from mjx_gr00t.rl import algos
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.metrics_log import read_metrics
from mjx_gr00t.runner.recipes import resolve
from mjx_gr00t.runner.trained import load_trained

# 4 envs x 2 steps = 8 env steps per iteration, 4 iterations, 2 updates per iteration.
TINY = [
    "--scene", "fetch_push", "--base", "zero", "--num-envs", "4", "--steps-per-iteration", "2",
    "--utd-ratio", "0.25", "--batch-size", "8", "--buffer-capacity", "64", "--warmup-steps", "8",
    "--actor-hidden", "16", "16", "--critic-hidden", "16", "16", "--total-steps", "32", "--engine", "c", "--checkpoint-every", "1",
    "--wandb", "disabled",
]


def _run(out, *extra):
    return residual_sac.main([*TINY, "--out", str(out), *extra])


def _saved(out):
    config = resolve(cli.parse("sac", [*TINY, "--out", str(out)]), "sac")
    env = build_env(config, groot=planner)  # the env object (and compiled init) the CLI trained with
    target = algos.get("sac").init(config.algo, env, jax.random.PRNGKey(config.seed))
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        state = ckpt.restore(target)
    return jax.tree.map(np.asarray, (state.learner, state.buffer, state.normalizer)), int(state.env_steps)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sac") / "full"
    return out, _run(out, "--eval-episodes", "4")


def test_full_run_writes_every_output(full_run):
    out, summary = full_run
    for name in ("run.json", "metrics.jsonl", "summary.json", "learning_curve.png",
                 "export/residual.safetensors", "export/residual.json"):
        assert (out / name).exists(), name
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [8, 16, 24, 32]
    for key in ("rollout/ep_rew_mean", "residual/success_rate", "residual/penalty", "task/dist_to_goal",
                "loss/critic", "buffer/size"):
        assert key in records[-1], key
    for policy in ("base", "residual"):
        assert set(summary[policy]) >= {"success_rate", "success_ci95", "mean_return", "mean_final_distance"}
    assert json.loads((out / "export" / "residual.json").read_text())["network"]["output_squash"] == "tanh"


def test_export_matches_the_jax_policy(full_run):
    out, _ = full_run
    trained = load_trained(str(out), groot=planner)  # as the CLI loads it: its compiled init is reused
    torch = pytest.importorskip("torch")
    module = ResidualPolicy.from_export(str(out / "export"))
    obs = np.random.default_rng(0).normal(size=(1000, trained.env.observation_size)).astype(np.float32)
    want = np.asarray(trained.policy_fn(trained.params, obs))
    got = module(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_evaluate_cli_reads_a_sac_run(full_run):
    out, summary = full_run
    record = evaluate_cli.evaluate(evaluate_cli.Args(run=str(out), episodes=4))
    assert record["residual"] == summary["residual"]


def test_resume_is_bitwise_identical_to_a_straight_run(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _run(straight, "--eval-episodes", "0")
    _run(resumed, "--eval-episodes", "0", "--stop-after", "2")
    residual_sac.main(["--resume", str(resumed), "--eval-episodes", "0"])
    (tree_a, steps_a), (tree_b, steps_b) = _saved(straight), _saved(resumed)
    assert steps_a == steps_b == 32
    jax.tree.map(np.testing.assert_array_equal, tree_a, tree_b)


def test_resume_across_versions(tmp_path):
    """A run written before a flag existed resumes when the flag is left at its default; a
    checkpoint whose state is laid out differently is refused with one clear line."""
    out = tmp_path / "old"
    _run(out, "--eval-episodes", "0", "--stop-after", "2")
    for meta in (out / "checkpoints").glob("*/config/metadata"):
        saved = json.loads(meta.read_text())
        del saved["identity"]["groot"]["task"]       # as if written before --groot.task existed
        meta.write_text(json.dumps(saved))
    record = json.loads((out / "run.json").read_text())
    del record["config"]["groot"]["task"]
    (out / "run.json").write_text(json.dumps(record))
    residual_sac.main(["--resume", str(out), "--eval-episodes", "0", "--stop-after", "1"])
    assert _saved(out)[1] == 24
    record["config"]["scene"]["base"] = "script"    # the script base adds goal contexts to the state
    (out / "run.json").write_text(json.dumps(record))
    for meta in (out / "checkpoints").glob("*/config/metadata"):
        saved = json.loads(meta.read_text())
        saved["identity"]["scene"]["base"] = "script"
        meta.write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match="differently laid-out training state") as info:
        residual_sac.main(["--resume", str(out), "--eval-episodes", "0"])
    assert "not in the checkpoint: buffer.data.next_context" in str(info.value)


def test_resume_with_more_total_steps_equals_the_longer_run(tmp_path):
    longer, extended = tmp_path / "longer", tmp_path / "extended"
    _run(longer, "--eval-episodes", "0", "--total-steps", "48")
    _run(extended, "--eval-episodes", "0")
    first = read_metrics(str(extended / "metrics.jsonl"))[-1]["time/wall_s"]
    started = time.perf_counter()
    summary = residual_sac.main(["--resume", str(extended), "--eval-episodes", "0", "--total-steps", "48"])
    elapsed = time.perf_counter() - started
    (tree_a, steps_a), (tree_b, steps_b) = _saved(longer), _saved(extended)
    assert steps_a == steps_b == 48
    jax.tree.map(np.testing.assert_array_equal, tree_a, tree_b)
    record = json.loads((extended / "run.json").read_text())
    assert record["config"]["run"]["total_steps"] == 48
    assert [(c["total_steps"]["from"], c["total_steps"]["to"]) for c in record["changed_on_resume"]] == [(32, 48)]
    records = read_metrics(str(extended / "metrics.jsonl"))
    walls = [r["time/wall_s"] for r in records]
    assert walls == sorted(walls) and walls[4] > first     # training time counts on across the resume
    # ... while the first rate after the resume is over this invocation's time alone
    assert 8 / records[4]["time/env_steps_per_s"] == pytest.approx(walls[4] - walls[3], rel=1e-3)
    # summary.json: the time before the resume (as logged at the checkpoint) plus this invocation's,
    # which includes the final checkpoint save, so it is at least the last logged time/wall_s.
    this_run = 16 / summary["env_steps_per_s"]
    assert summary["wall_time_s"] - this_run == pytest.approx(walls[3], rel=1e-6)
    assert walls[-1] - walls[3] <= this_run <= elapsed
    before = (extended / "run.json").read_text()
    with pytest.raises(SystemExit, match="below the 48 env steps"):
        residual_sac.main(["--resume", str(extended), "--eval-episodes", "0", "--total-steps", "40"])
    assert (extended / "run.json").read_text() == before      # a refused resume changes nothing


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scene", "paper_square", "--base", "ik", "--her"], "HER needs a goal-conditioned scene"),
        (["--buffer-capacity", "400000000000"], "needs"),
        (["--scene-options", "obj_range=0.4"], "reaches past the table"),
        (["--scene-options", "target_range=0.5"], "table"),
        (["--scene-options", "no_such=1"], "no_such"),
        (["--alpha", "-1"], "--alpha must be >= 0"),
        (["--total-steps", "4"], "smaller than one iteration"),
    ],
)
def test_bad_input_fails_clearly(tmp_path, flags, message):
    with pytest.raises(SystemExit, match=message):
        _run(tmp_path / "run", *flags)
    assert not (tmp_path / "run").exists()
