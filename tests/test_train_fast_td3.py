"""`python -m train.residual_fast_td3` end to end on a tiny config: it is the third registered
algorithm, writes every output, exports a policy that matches the JAX one, resumes bitwise, stops on
the training clock, and refuses bad input in one line."""

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import json

import jax
import numpy as np
import pytest

from bridge.groot import planner
from bridge.residual_torch import ResidualPolicy
from mjx_gr00t.checkpoint import Checkpointer
from mjx_gr00t.rl import algos
from mjx_gr00t.rl.td3_config import FastTD3Config
from mjx_gr00t.runner import cli
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.metrics_log import read_metrics
from mjx_gr00t.runner.recipes import recipe_config, resolve
from mjx_gr00t.runner.trained import load_trained
from train import residual_fast_td3

# 8 envs x 1 step = 8 env steps per iteration, 4 iterations, 2 updates of batch 16 per iteration.
TINY = [
    "--recipe", "fetch_pick_place/zero/fast_td3", "--scene", "fetch_reach", "--base", "zero", "--num-envs", "8", "--updates-per-iteration", "2",
    "--batch-size", "16", "--buffer-capacity", "64", "--warmup-steps", "16", "--atoms", "11",
    "--actor-hidden", "16", "16", "--critic-hidden", "16", "16", "--total-steps", "32", "--engine", "c",
    "--checkpoint-every", "1", "--wandb", "disabled",
]


def _run(out, *extra):
    return residual_fast_td3.main([*TINY, "--out", str(out), *extra])


def _saved(out):
    config = resolve(cli.parse("fast_td3", [*TINY, "--out", str(out)]), "fast_td3")
    env = build_env(config, groot=planner)
    target = algos.get("fast_td3").init(config.algo, env, jax.random.PRNGKey(config.seed))
    with Checkpointer(f"{out}/checkpoints", read_only=True) as ckpt:
        state = ckpt.restore(target)
    return jax.tree.map(np.asarray, (state.learner, state.buffer, state.normalizer)), int(state.env_steps)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("td3") / "full"
    return out, _run(out, "--eval-episodes", "4")


def test_registered_beside_ppo_and_sac_with_its_recipes():
    assert algos.names() == ["fast_td3", "ppo", "sac"]
    config = recipe_config("fetch_pick_place/zero/fast_td3")
    assert isinstance(config.algo, FastTD3Config)
    assert config.algo.samples_per_env_step == 32 and config.algo.her
    assert isinstance(recipe_config("so101_pick_place/script/fast_td3").algo, FastTD3Config)


def test_full_run_writes_every_output(full_run):
    out, summary = full_run
    for name in ("run.json", "metrics.jsonl", "summary.json", "learning_curve.png",
                 "export/residual.safetensors", "export/residual.json"):
        assert (out / name).exists(), name
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [8, 16, 24, 32]
    assert records[0]["train/updates"] == 0 and records[-1]["train/updates"] == 2  # warm-up, then updates
    for key in ("loss/critic", "loss/actor", "train/q_mean", "buffer/size", "residual/success_rate"):
        assert key in records[-1], key
    assert np.isfinite(records[-1]["loss/actor"])
    assert json.loads((out / "run.json").read_text())["algo"] == "fast_td3"
    exported = json.loads((out / "export" / "residual.json").read_text())
    assert exported["network"]["output_squash"] == "tanh" and exported["algo"] == "fast_td3"
    assert set(summary["residual"]) >= {"success_rate", "success_ci95", "mean_return"}


def test_export_matches_the_jax_policy(full_run):
    out, _ = full_run
    trained = load_trained(str(out), groot=planner)
    torch = pytest.importorskip("torch")
    module = ResidualPolicy.from_export(str(out / "export"))
    obs = np.random.default_rng(0).normal(size=(500, trained.env.observation_size)).astype(np.float32)
    want = np.asarray(trained.policy_fn(trained.params, obs))
    assert np.abs(want).max() > 0  # trained away from the zero-initialised head
    np.testing.assert_allclose(module(torch.from_numpy(obs)).numpy(), want, atol=1e-5)


def test_resume_is_bitwise_identical_to_a_straight_run(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _run(straight, "--eval-episodes", "0")
    _run(resumed, "--eval-episodes", "0", "--stop-after", "2")
    residual_fast_td3.main(["--resume", str(resumed), "--eval-episodes", "0"])
    (tree_a, steps_a), (tree_b, steps_b) = _saved(straight), _saved(resumed)
    assert steps_a == steps_b == 32
    jax.tree.map(np.testing.assert_array_equal, tree_a, tree_b)


def test_stop_after_minutes_checkpoints_and_resume_goes_on(tmp_path):
    out = tmp_path / "timed"
    assert _run(out, "--eval-episodes", "0", "--stop-after-minutes", "1e-6") == {}  # stopped, not finished
    records = read_metrics(str(out / "metrics.jsonl"))
    assert [r["env_steps"] for r in records] == [8]  # the iteration that crossed the limit, then a stop
    residual_fast_td3.main(["--resume", str(out), "--eval-episodes", "0"])
    assert _saved(out)[1] == 32


@pytest.mark.parametrize(("flags", "message"), [
    (["--scene", "paper_square", "--base", "ik", "--her"], "HER needs a goal-conditioned scene"),
    (["--buffer-capacity", "400000000000"], "use a capacity of at most"),
    (["--atoms", "1"], "atoms >= 2"),
    (["--noise-std-min", "0.5", "--noise-std-max", "0.1"], "noise_std_min"),
    (["--stop-after-minutes", "0"], "--stop-after-minutes must be > 0"),
])
def test_bad_input_fails_clearly(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path / "run", *flags)
    said = str(exit_info.value) + capsys.readouterr().err  # argparse-stage errors go to stderr
    assert message in said and "Traceback" not in said
    assert not (tmp_path / "run").exists()
