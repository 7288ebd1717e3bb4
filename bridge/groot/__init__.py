"""GR00T behind the residual: one room for everything that loads, queries or serves it.

Modules (import each name from its own module; this package re-exports nothing):
- `layout`: data configs, key maps, checkpoint metadata, min-max normalisation (no torch);
- `adapters`: the models behind one interface, bridge.tiny's and Isaac-GR00T's `Gr00tPolicy`;
- `policy`: `GrootBase`, a checkpoint as a batched base policy in sim units;
- `planner`: the host side of `--base groot` (renderer + GrootBase as the env's chunk planner), and
  the record an export keeps of the base;
- `wire`, `client`, `server`: Isaac-GR00T's ZMQ inference protocol, a client adapter for GrootBase,
  and `python -m bridge.groot.server --model DIR`.

The settings themselves are `mjx_gr00t.groot_settings.GrootSettings` (no torch).
"""
