"""The domain-randomisation ablation (`python -m train.ablate_dr`): which DR factors make a residual
robust, measured on one wider, held-out distribution. The modules, leaves first:

- `settings`: `AblationSettings` (the CLI's flags), `validate`, and the cached `residual_env` builder.
- `grid`: arms x seeds as one leading axis; PPO's init and train step vmapped over it, and the grid
  split over devices.
- `train`: `train_grid`, the loop of grid steps with metrics.jsonl and Ctrl-C.
- `evaluate`: the wider held-out DR distribution and `evaluate_grid`.
- `report`: rows with Wilson intervals as CSV, markdown and a bar chart.
- `run`: `build` and `run`, one whole ablation from its settings.
"""
