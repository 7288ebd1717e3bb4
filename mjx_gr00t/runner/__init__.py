"""The runner: one training loop for every registered algorithm (mjx_gr00t.rl.algos).

config (RunConfig, flat names) -> recipes (named runs, resolution) -> cli (typed flags, resume) ->
run (build, train, finish) over build (env + export spec), loop (iterations, checkpoints, Ctrl-C),
metrics_log, finish (held-out evaluation, summary, export, plot), run_dir, trained (load a run),
export (a run's export), legacy (runs made before RunConfig).
"""
