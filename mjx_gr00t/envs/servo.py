"""What a real STS3215 position servo does to commands and readings, for one env (vmap for a batch).

- Quantisation: commands and readings are whole ticks, `ticks_per_rev` per turn (4096).
- Latency: a command reaches the servo `latency` policy steps late (a per-episode whole number);
  the env keeps the last MAX_DELAY_STEPS + 1 commands.
- Backlash: the joint settles anywhere inside a dead band of half-width `backlash` around the
  command, on the side it came from (a play operator: the applied target only moves once the
  command has pushed it to the band's edge).
- Gain: a scale of kp, applied as a model override (`randomize.scale_actuator_gains`).

    q_seen = quantise(q, 4096)
    history = push(history, command)             # (MAX_DELAY_STEPS + 1, J), newest first
    target = play(previous_target, delayed(history, latency), backlash)
"""

import math

import jax
import jax.numpy as jnp


def quantise(q: jax.Array, ticks_per_rev: int) -> jax.Array:
    """q: (...) rad -> the nearest whole tick, rad; unchanged when ticks_per_rev is 0."""
    if ticks_per_rev == 0:
        return q
    tick = 2.0 * math.pi / ticks_per_rev
    return jnp.round(q / tick) * tick


def push(history: jax.Array, newest: jax.Array) -> jax.Array:
    """history: (H, J), newest first; newest: (J,) -> (H, J) with `newest` in front, the oldest dropped."""
    return jnp.concatenate([newest[None], history[:-1]], axis=0)


def delayed(history: jax.Array, steps: jax.Array) -> jax.Array:
    """history: (H, J), newest first; steps: () int in [0, H) -> (J,) the entry `steps` back."""
    return jnp.take(history, jnp.clip(steps, 0, history.shape[0] - 1), axis=0)


def play(previous: jax.Array, command: jax.Array, backlash: jax.Array) -> jax.Array:
    """The backlash play operator. previous: (J,) applied target, command: (J,), backlash: (J,) half-
    widths >= 0 -> (J,) the new applied target, within `backlash` of `command`."""
    return jnp.clip(previous, command - backlash, command + backlash)


def draw_whole_steps(key: jax.Array, bounds: jax.Array) -> jax.Array:
    """A whole number of steps drawn uniformly from [bounds[0], bounds[1]] (both rounded); () int32."""
    low, high = jnp.round(bounds[0]), jnp.round(bounds[1])
    drawn = jnp.floor(jax.random.uniform(key, (), minval=low, maxval=high + 1.0))
    return jnp.clip(drawn, low, high).astype(jnp.int32)
