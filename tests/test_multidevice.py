"""PPO and SAC on 2 emulated CPU devices against 1 device, and `mjx_gr00t.distributed`'s checks.

XLA fixes the device count when JAX starts, so each comparison runs in a subprocess started with
`XLA_FLAGS=--xla_force_host_platform_device_count=2` (plus the usual CPU flags, and the gpu smoke
run's `benchmarks.gpu.SMOKE_XLA_FLAGS`: less LLVM optimisation, about 40 % less compile time; with
them the PPO runs below differ by 1.4e-4 at most, 0.38 % of the change, SAC by 7e-6). It trains the
same config from the same seed twice: on a mesh of one device (exactly the single-device program)
and split over both devices, and prints what the test then checks.

Why a tolerance and not bitwise equality: split over devices, every sum over the env or sample
axis (normaliser statistics, loss means, hence gradients) becomes per-device partial sums plus an
all-reduce, which adds floats in another order (float addition is not associative: last-bit
differences). Everything else (random numbers, per-env physics, the minibatch permutation) is the
same. One thing amplifies those last bits: observation dims that barely vary (std 1e-6..5e-5 in
paper_square), whose variance estimate cancels catastrophically, so their normalised values, and
from there the updates, differ by more. Measured here (PPO, paper_square, 3 iterations):
parameters moved by 3.6e-3 at most in training; the two runs differ by 1.3e-4 at most, 0.3 % of
the change in L2 norm (without the observation normaliser: 7e-7, float noise). SAC on
fetch_reach: 1.3e-6 against a change of 0.19 in L2. PARAM_RTOL allows about 6x the PPO figure.
Gradient sums instead of means would hide behind Adam's scale invariance, so the metrics
(`train/grad_norm`, the losses) are compared too.
"""

import json
import os
import subprocess
import sys

import mjx_gr00t  # noqa: F401  (sets XLA flags before JAX is imported)

import jax
import pytest

from mjx_gr00t import _xla_flags, distributed

PARAM_RTOL: float = 0.02
"""|params(2 devices) - params(1 device)| / |params(1 device) - initial params|, L2 over all weights."""
METRIC_RTOL: float = 0.01
"""Relative tolerance on every metric of the last iteration (absolute 1e-6 near zero)."""
ITERATIONS: int = 3


def _worker(algo: str) -> dict:
    """Runs inside the 2-device subprocess: trains `algo` on 1 and on 2 devices, returns a summary."""
    import dataclasses

    import numpy as np

    from mjx_gr00t.bases import make_base
    from mjx_gr00t.envs import registry
    from mjx_gr00t.envs.base import EpisodeEnv
    from mjx_gr00t.residual import AlphaSchedule, ResidualTask
    from mjx_gr00t.rl import ppo, sac
    from mjx_gr00t.rl.ppo_config import PPOConfig
    from mjx_gr00t.rl.sac_config import SACConfig

    assert len(jax.devices()) == 2, jax.devices()
    scene, num_envs = ("paper_square" if algo == "ppo" else "fetch_reach"), 8
    scene_config = dataclasses.replace(registry.default_config(scene), num_envs=num_envs, engine="c")
    inner = registry.make(scene, scene_config)
    env = EpisodeEnv(ResidualTask(inner.task, make_base("zero", scene, inner.task)), inner.episode_length,
                     terminate_on_success=inner.terminate_on_success)
    if algo == "ppo":
        config = PPOConfig(num_envs=num_envs, unroll_length=8, num_minibatches=2, update_epochs=2,
                           policy_hidden=(16, 16), value_hidden=(16, 16), init_log_std=-1.0)
        odd = dataclasses.replace(config, num_envs=3)
        trainer, step_kwargs = ppo, {}
        params_of = lambda s: (s.policy_params, s.value_params)  # noqa: E731
        per_env_of = lambda s: [(s.env_state, 0)]  # noqa: E731  (tree, its env axis)
    else:  # learning starts after the first iteration (32 env steps), then 8 updates per iteration
        config = SACConfig(num_envs=num_envs, steps_per_iteration=4, utd_ratio=0.25, batch_size=16,
                           buffer_capacity=num_envs * 32, warmup_steps=32, her=True,
                           actor_hidden=(16, 16), critic_hidden=(16, 16))
        odd = dataclasses.replace(config, num_envs=3, buffer_capacity=3 * 32)
        trainer, step_kwargs = sac, {"donate": False}
        params_of = lambda s: (s.learner.actor_params, s.learner.critic_params)  # noqa: E731
        per_env_of = lambda s: [(s.env_state, 0), (s.buffer.data, 1), (s.buffer.episode_id, 1)]  # noqa: E731

    def train(mesh: jax.sharding.Mesh) -> tuple:
        state = trainer.init(config, env, jax.random.PRNGKey(7), mesh=mesh)
        step = trainer.make_train_step(config, env, AlphaSchedule(alpha=1.0), mesh=mesh, **step_kwargs)
        for _ in range(ITERATIONS):
            state, metrics = step(state)
        return state, {k: float(v) for k, v in metrics.items()}

    def flat(tree: object) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree.leaves(tree)])

    start = trainer.init(config, env, jax.random.PRNGKey(7), mesh=distributed.env_mesh(jax.devices()[:1]))
    one, one_metrics = train(distributed.env_mesh(jax.devices()[:1]))
    two, two_metrics = train(distributed.env_mesh())
    per_env = [(leaf, axis) for tree, axis in per_env_of(two) for leaf in jax.tree.leaves(tree)]
    try:
        trainer.init(odd, env, jax.random.PRNGKey(0))
        odd_error = ""
    except ValueError as e:
        odd_error = str(e)
    return {
        "param_diff": float(np.linalg.norm(flat(params_of(two)) - flat(params_of(one)))),
        "max_param_diff": float(np.max(np.abs(flat(params_of(two)) - flat(params_of(one))))),
        "param_change": float(np.linalg.norm(flat(params_of(one)) - flat(params_of(start)))),
        "one_metrics": one_metrics, "two_metrics": two_metrics,
        "per_env": [{"shape": list(leaf.shape), "axis": axis, "spec": str(leaf.sharding.spec),
                     "shards": sorted((s.device.id, list(s.data.shape)) for s in leaf.addressable_shards)}
                    for leaf, axis in per_env],
        "params_replicated": all(x.sharding.is_fully_replicated for x in jax.tree.leaves(params_of(two))),
        "one_device_unsharded": all(len(x.sharding.device_set) == 1 for x in jax.tree.leaves(one)),
        "odd_num_envs_error": odd_error,
    }


def _run_worker(algo: str) -> dict:
    from benchmarks.gpu import SMOKE_XLA_FLAGS

    flags = " ".join(["--xla_force_host_platform_device_count=2", *_xla_flags.CPU_FLAGS, *SMOKE_XLA_FLAGS])
    # TF_CPP_MIN_LOG_LEVEL=2: XLA warns at every compile that the `c` engine's host callback needs
    # the whole batch on the first device; expected (see mjx_gr00t.distributed), so kept quiet.
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, os.path.abspath(__file__), algo], env=env, cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_two_devices_match_one_device(algo: str) -> None:
    result = _run_worker(algo)
    print(f"{algo}: |2 devices - 1 device| = {result['param_diff']:.3g} (max "
          f"{result['max_param_diff']:.3g}), |trained - initial| = {result['param_change']:.3g}")
    assert result["param_change"] > 0  # training moved the weights, so the match means something
    assert result["param_diff"] < PARAM_RTOL * result["param_change"]
    one, two = result["one_metrics"], result["two_metrics"]
    assert set(one) == set(two)
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=METRIC_RTOL, abs=1e-6, nan_ok=True), key
    # Every per-env leaf (env state; SAC: replay rings) is split in halves over devices 0 and 1.
    assert result["per_env"]
    for leaf in result["per_env"]:
        half = list(leaf["shape"])
        half[leaf["axis"]] //= 2
        assert leaf["shards"] == [[0, half], [1, half]], leaf
        assert "'envs'" in leaf["spec"], leaf
    assert result["params_replicated"]
    assert result["one_device_unsharded"]
    assert "multiple of the 2 devices" in result["odd_num_envs_error"]


def test_initialize_is_a_no_op_without_a_coordinator(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize() is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_processes": 2, "process_id": 0}, "coordinator"),
        ({"coordinator_address": "localhost:1234", "num_processes": 2, "process_id": 2}, "process id"),
        ({"coordinator_address": "localhost:1234", "num_processes": 0}, "number of processes"),
    ],
)
def test_initialize_rejects_inconsistent_values(
    kwargs: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=message):
        distributed.initialize(**kwargs)


def test_initialize_reads_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES must be an integer"):
        distributed.initialize()


def test_one_device_means_no_sharding() -> None:
    mesh = distributed.env_mesh(jax.devices()[:1])
    assert distributed.resolve_mesh(mesh) is None  # the trainers then build single-device programs
    assert distributed.num_shards(None) == 1
    distributed.check_divisible(5, None)  # any num_envs goes
    with pytest.raises(ValueError, match="axis named 'envs'"):
        distributed.resolve_mesh(jax.sharding.Mesh(jax.devices()[:1], ("batch",)))


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1])))
