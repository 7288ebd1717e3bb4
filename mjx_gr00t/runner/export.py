"""A run's export: the residual's weights and everything a deployment needs to run it.

    write_run_export("runs/x/export", config, algos.get("ppo"), env, params)
"""

from mjx_gr00t.envs.base import EpisodeEnv
from mjx_gr00t.export.groot import GrootExport
from mjx_gr00t.export.write import write_export
from mjx_gr00t.rl.algo import Algo, PolicyParams
from mjx_gr00t.runner.build import export_spec
from mjx_gr00t.runner.config import RunConfig


def write_run_export(out_dir: str, config: RunConfig, algo: Algo, env: EpisodeEnv, params: PolicyParams,
                     groot: GrootExport | None = None) -> None:
    """Writes `out_dir`/residual.safetensors + residual.json for a run of `config`; with --base groot,
    `groot` (`build.groot_export`) is recorded in residual.json."""
    network, normalizer = algo.export_params(config.algo, params, env.action_size)
    spec = export_spec(config, env, algo.name, algo.export_network(config.algo), groot)
    write_export(out_dir, network, normalizer, spec)
