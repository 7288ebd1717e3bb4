"""Export of a trained residual policy: plain tensors plus a JSON description (no pickles, no torch).

An export directory holds `residual.safetensors` (weights and observation normaliser) and
`residual.json` (everything needed to run them without this package). The modules, leaves first:

- `format`: file names, format version, `read_meta`, and the project's one atomic writer
  (`write_bytes_atomic`, `write_json_atomic`); numpy and the standard library only.
- `units`: sim (rad) <-> LeRobot (degrees; gripper 0..100) joint conversions; no JAX, works on
  numpy and JAX arrays alike.
- `groot`: `GrootExport`, the GR00T base a residual was trained on, read from and added to an
  export; no JAX.
- `spec`: `ExportSpec`, what the files say about a policy besides its tensors; no JAX.
- `write`: `write_export` and the residual.json document (JAX side: takes flax params).
- `read`: `load_export` and `export_policy_fn`, the residual rebuilt in JAX.

`bridge/residual_torch.py` rebuilds the residual in torch from `format` alone.
"""
