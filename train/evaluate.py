"""Evaluate a trained residual on held-out seeds: base alone vs base + residual (vs plain RL).

    python -m train.evaluate --run runs/residual_ppo --episodes 256 --json eval.json
    python -m train.evaluate --run runs/residual_ppo --plain-rl runs/plain_rl
    python -m train.evaluate --run runs/ppo-paper_square-ik-... --perception camera --episodes 128

Every policy runs on the same `--episodes` initial states, drawn from `--seed` (kept apart from
the training seeds). Reports success rate (95 % Wilson interval), mean return and mean final
distance to the goal (95 % normal intervals).

--perception camera (paper task, robot observations): also evaluates base + residual with the top
camera rendered at 320 x 240 and the paper-pose estimator run on every frame, in place of the estimate
noise model the residual trained with (from the first step on; the first estimate of an episode is
the model's), on the same initial states; both are reported. It renders a frame per env and step on
the host: about 20 ms a frame on a 2-core CPU, so 128 episodes take about 15 minutes.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

import dataclasses
import os
from typing import Any, Literal

from mjx_gr00t import cli_args
from tqdm import tqdm

from bridge.groot import planner
from mjx_gr00t.errors import UsageError
from mjx_gr00t.evaluation import format_table
from mjx_gr00t.export.format import write_json_atomic
from mjx_gr00t.render import RenderBackendError
from mjx_gr00t.residual_env import scene_task
from mjx_gr00t.runner.build import build_env
from mjx_gr00t.runner.config import RunSettings
from mjx_gr00t.runner.finish import evaluate_policies, evaluate_policy, evaluation_record
from mjx_gr00t.runner.trained import load_trained


@dataclasses.dataclass(frozen=True)
class Args:
    """Evaluate a training run on held-out episodes."""

    run: str
    """Run directory (the --out of train.residual_ppo / train.residual_sac)."""
    episodes: int = 256
    """Held-out episodes, run as parallel envs, one episode each."""
    seed: int = RunSettings().eval_seed
    """Seed of the held-out initial states and DR draws (the trainers' --eval-seed)."""
    json: str | None = None
    """Write the record to this JSON file."""
    plain_rl: str | None = None
    """A run trained with --base zero on the same scene, to compare as plain RL."""
    perception: Literal["model", "camera"] = "model"
    """Paper task: where the paper-pose estimate comes from. model: the noise model the run trained
    with. camera: also the top camera and the estimator in the loop (needs OpenGL: OSMesa on a CPU)."""


def evaluate(args: Args) -> dict[str, Any]:
    """Runs the evaluation and returns the record (also printed, and written to --json)."""
    if args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        raise UsageError(f"--json {args.json!r}: its directory does not exist")
    trained = load_trained(args.run, groot=planner)
    scene, base, alpha = trained.config.scene.scene, trained.config.scene.base, trained.config.residual.alpha
    results = evaluate_policies(trained.env, trained.policy_fn, trained.params, alpha, args.episodes, args.seed)
    rows = {f"{base} base alone": results["base"], f"{base} + residual": results["residual"]}
    if args.plain_rl:
        plain = load_trained(args.plain_rl, groot=planner)
        if plain.config.scene.base != "zero" or plain.config.scene.scene != scene:
            raise UsageError(
                f"--plain-rl {args.plain_rl!r} is a {plain.config.scene.base}-base run on {plain.config.scene.scene}; "
                f"it must be a --base zero run on {scene}")
        results["plain_rl"] = evaluate_policy(
            plain.env, plain.policy_fn, plain.params, plain.config.residual.alpha, args.episodes, args.seed)
        rows["plain RL"] = results["plain_rl"]
    if args.perception == "camera":
        camera = camera_env(trained, args.run)
        perception = scene_task(camera).camera_perception
        with tqdm(total=args.episodes * camera.episode_length, desc="camera in the loop", unit="frame") as bar:
            perception.on_frames = bar.update
            results["residual_camera"] = evaluate_policy(camera, trained.policy_fn, trained.params, alpha,
                                                         args.episodes, args.seed)
            perception.on_frames = None
        rows[f"{base} + residual, camera"] = results["residual_camera"]
    record = evaluation_record(scene, base, alpha, args.episodes, args.seed, results)
    record["perception"] = args.perception
    record["run"] = os.path.abspath(args.run)
    print(format_table(rows))
    if args.json:
        write_json_atomic(args.json, record)
        print(f"wrote {args.json}")
    return record


def camera_env(trained: Any, run: str) -> Any:
    """The run's env with the camera and estimator in the loop; UsageError (one line) where that
    cannot be: another scene or observation mode, or no OpenGL backend."""
    scene = trained.config.scene
    if scene.scene != "paper_square" or trained.env.spec.obs_mode != "robot":
        raise UsageError(f"--perception camera is for the paper task with robot observations; {run!r} is a "
                         f"{scene.scene} run ({trained.env.spec.obs_mode or 'no'} observation mode)")
    options = tuple(o for o in scene.scene_options if not o.startswith("perception=")) + ("perception='camera'",)
    config = dataclasses.replace(trained.config, scene=dataclasses.replace(scene, scene_options=options))
    try:
        return build_env(config, planner)
    except RenderBackendError as e:
        raise UsageError(str(e).splitlines()[0]) from e


if __name__ == "__main__":
    evaluate(cli_args.cli(Args))
