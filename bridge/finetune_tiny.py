"""Behaviour cloning of the tiny GR00T-contract model on a LeRobot dataset (e.g. `train.collect`'s), on
the CPU, writing a checkpoint that `--base groot --groot.model CKPT` loads through the real path.

    python -m bridge.finetune_tiny --dataset DIR --out CKPT [--steps 3000] [--batch 64] [--contract n1.5|n1.7]

The data is read as Isaac-GR00T reads it for the so100_dualcam config: meta/modality.json maps the
cameras (front <- observation.images.main, wrist <- observation.images.secondary_0) and slices
`observation.state` / `action` into single_arm (5) and gripper (1). Frames are resized to 224 x 224
as the deployed base resizes the robot's (`bridge.groot.frames`). The checkpoint's metadata takes
the dataset's statistics (LeRobot units): N1.5's experiment_cfg/metadata.json (min-max, absolute
actions, as GR00T's so100 config), or with --contract n1.7 the N1.6/N1.7 processor files (q01/q99,
clipped state, the arm's chunk relative to the query-time state, as Isaac-GR00T's fine-tuning
launcher sets it). State and action are normalised for training exactly as the bridge will when it
loads the checkpoint (`bridge.groot.normaliser`). Each sample is a frame's two images,
its state and the next 16 actions (the last one repeated past the episode's end).

Training is flow matching as GR00T's action head does it: x_t = (1 - t) noise + t action with
t ~ U(0, 1), and the head regresses the clean action (the 6 real of its 32 padded dimensions), with
AdamW and a cosine learning rate. The model is the one `bridge.tiny` writes (same config and fixed
denoising noise), its weights trained from that seed. Progress and the loss are shown as it trains;
the loss curve goes to CKPT/finetune.json.
"""

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from bridge.groot.frames import to_groot_size
from bridge.groot.layout import METADATA_FILE, DataConfig, resolve_layout
from bridge.groot.normaliser import Normaliser
from bridge.groot.processor_files import N15, PROCESSOR_FILES, VERSIONS, embodiment_record
from bridge.tiny_checkpoint import processor_files_content
from bridge.tiny_model import (
    EMBODIMENT_IDS, FORMAT_VERSION, PIXEL_STRIDE, WEIGHTS_FILE, TinyConfig, TinyGr00tModel, hash_tokens,
)
from mjx_gr00t.datasets.read import DatasetError, open_dataset

DATA_CONFIG = "so100_dualcam"
STAT_QUANTILES = (0.01, 0.99)


def camera_keys(modality: dict[str, Any], video: Sequence[tuple[str, str]]) -> list[str]:
    """The dataset camera key behind each of the layout's video keys (modality.json's original_key)."""
    out = []
    for key, _ in video:
        name = key.split(".", 1)[1]
        if name not in modality.get("video", {}):
            raise DatasetError(f"meta/modality.json maps no camera to {name!r} (it maps {sorted(modality.get('video', {}))})")
        out.append(modality["video"][name].get("original_key", f"observation.images.{name}"))
    return out


def feature_stats(values: np.ndarray) -> dict[str, list[float]]:
    """Isaac-GR00T's per-dimension statistics of (N, D) values."""
    v = np.asarray(values, np.float64)
    q01, q99 = np.quantile(v, STAT_QUANTILES, axis=0)
    return {"min": v.min(0).tolist(), "max": v.max(0).tolist(), "mean": v.mean(0).tolist(), "std": v.std(0).tolist(),
            "q01": q01.tolist(), "q99": q99.tolist()}


def load_samples(root: str, cfg: TinyConfig, episodes: int | None) -> dict[str, Any]:
    """Frames thinned to what the backbone reads (B, V, 56, 56, 3), states (N, 6), action chunks
    (N, 16, 6), each frame's task, and the dataset's statistics; DatasetError for a bad dataset."""
    data = open_dataset(root, need_modality=True)
    with open(os.path.join(root, "meta", "modality.json")) as f:
        modality = json.load(f)
    cams = camera_keys(modality, [(k, "") for k in cfg.video_keys])
    for key in cams:
        if key not in data.cameras:
            raise DatasetError(f"{root!r} has no camera {key!r} (it has {data.cameras})")
    frames, states, chunks, tasks = [], [], [], []
    horizon = cfg.action_horizon
    for n in tqdm(range(min(episodes or len(data.episodes), len(data.episodes))), desc="reading", unit="episode"):
        s, a, video, task = data.episode(n, cams)
        if s.shape[1] != 6 or a.shape[1] != 6:
            raise DatasetError(f"{root!r}: episode {n} has {s.shape[1]}-D state and {a.shape[1]}-D action; "
                               "the SO-101 layout needs 6 (single_arm 5 + gripper 1)")
        thin = [to_groot_size(video[k])[:, ::PIXEL_STRIDE, ::PIXEL_STRIDE].numpy() for k in cams]
        frames.append(np.stack(thin, axis=1))
        states.append(s)
        index = np.minimum(np.arange(len(a))[:, None] + np.arange(horizon)[None], len(a) - 1)
        chunks.append(a[index])
        tasks += [task[0]] * len(s)
    states_all, chunks_all = np.concatenate(states), np.concatenate(chunks)
    return {"frames": np.concatenate(frames), "states": states_all, "chunks": chunks_all, "tasks": tasks,
            "state_stats": feature_stats(states_all), "action_stats": feature_stats(chunks_all[:, 0]),
            "episodes": len(states)}


def metadata(cfg: TinyConfig, embodiment_tag: str, state_stats: dict, action_stats: dict) -> dict[str, Any]:
    """experiment_cfg/metadata.json with the dataset's statistics, split by the layout's keys."""
    def per_key(keys: Sequence[tuple[str, int]], stats: dict) -> tuple[dict, dict]:
        out, mods, off = {}, {}, 0
        for key, n in keys:
            sub = key.split(".", 1)[1]
            out[sub] = {name: v[off:off + n] for name, v in stats.items()}
            mods[sub] = {"absolute": True, "rotation_type": None, "shape": [n], "continuous": True}
            off += n
        return out, mods

    (s_stats, s_mods), (a_stats, a_mods) = per_key(cfg.state_keys, state_stats), per_key(cfg.action_keys, action_stats)
    video = {k.split(".", 1)[1]: {"resolution": [224, 224], "channels": 3, "fps": 30.0} for k in cfg.video_keys}
    return {embodiment_tag: {"statistics": {"state": s_stats, "action": a_stats},
                             "modalities": {"video": video, "state": s_mods, "action": a_mods},
                             "embodiment_tag": embodiment_tag}}


def checkpoint_files(cfg: TinyConfig, embodiment_tag: str, samples: dict[str, Any], contract: str) -> dict[str, Any]:
    """The metadata files of the checkpoint (relative path -> JSON content) with the dataset's statistics:
    N1.5's experiment_cfg/metadata.json (absolute actions, min-max), or N1.6/N1.7's processor files
    (the arm RELATIVE to the query-time state with the statistics of those offsets, q01/q99, clipped)."""
    if contract == N15:
        return {METADATA_FILE: metadata(cfg, embodiment_tag, samples["state_stats"], samples["action_stats"])}
    chunks, states = samples["chunks"], samples["states"]
    offsets = (chunks - states[:, None, :]).reshape(-1, chunks.shape[-1])

    def per_key(keys: Sequence[tuple[str, int]], stats: dict) -> dict[str, Any]:
        out, off = {}, 0
        for key, n in keys:
            out[key.split(".", 1)[1]] = {name: v[off:off + n] for name, v in stats.items()}
            off += n
        return out

    return processor_files_content(cfg, embodiment_tag, per_key(cfg.state_keys, samples["state_stats"]),
                                   per_key(cfg.action_keys, samples["action_stats"]),
                                   per_key(cfg.action_keys, feature_stats(offsets)))


def normaliser_of(cfg: TinyConfig, embodiment_tag: str, files: dict[str, Any]) -> Normaliser:
    """The checkpoint's own normalisation (what the bridge will apply when it loads it), float64."""
    layout = DataConfig("tiny", tuple((k, "") for k in cfg.video_keys), cfg.state_keys, cfg.action_keys,
                        cfg.language_key, cfg.action_horizon)
    if METADATA_FILE in files:
        emb = files[METADATA_FILE][embodiment_tag]
    else:
        emb = embodiment_record(embodiment_tag, *(files[n] for n in PROCESSOR_FILES), "the fine-tune")
    return Normaliser(emb, layout, dtype=torch.float64)


def train(samples: dict[str, Any], cfg: TinyConfig, norm: Normaliser, steps: int, batch: int, lr: float,
          seed: int, embodiment_tag: str) -> tuple[TinyGr00tModel, list[float]]:
    """Flow-matching behaviour cloning on states and chunks normalised by `norm` (the checkpoint's own);
    returns the model and the loss every step."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyGr00tModel(cfg)
    model.noise.copy_(torch.randn(model.noise.shape, generator=torch.Generator().manual_seed(seed + 1)))
    frames = torch.from_numpy(samples["frames"])
    raw_states = torch.from_numpy(np.asarray(samples["states"], np.float64))
    states = norm.state(raw_states).float()
    chunks = norm.action_from_raw(torch.from_numpy(np.asarray(samples["chunks"], np.float64)), raw_states).float()
    tokens = hash_tokens(samples["tasks"], cfg.text_vocab, cfg.text_len)
    emb_id = torch.full((batch,), EMBODIMENT_IDS[embodiment_tag], dtype=torch.int64)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k / steps, 1.0))))
    gen = torch.Generator().manual_seed(seed + 2)
    losses = []
    model.train()
    with tqdm(range(steps), desc="fine-tuning", unit="step") as bar:
        for _ in bar:
            idx = torch.randint(0, len(states), (batch,), generator=gen)
            ctx, pad = model.backbone(frames[idx], tokens[idx], stride=1)
            state = torch.nn.functional.pad(states[idx][:, None], (0, cfg.max_state_dim - states.shape[1]))
            clean = torch.nn.functional.pad(chunks[idx], (0, cfg.max_action_dim - chunks.shape[2]))
            noise = torch.randn(clean.shape, generator=gen)
            t = torch.rand(batch, generator=gen) * 0.999
            x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * clean
            guess = model.predict_clean(ctx, pad, state, emb_id, x_t, t)
            loss = torch.nn.functional.mse_loss(guess[..., :chunks.shape[2]], clean[..., :chunks.shape[2]])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
    return model.eval(), losses


def save(out: str, model: TinyGr00tModel, files: dict[str, Any], log: dict[str, Any]) -> None:
    """model.safetensors, then config.json, the metadata `files` and finetune.json, each written whole
    (.part, then renamed)."""
    os.makedirs(out, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, os.path.join(out, WEIGHTS_FILE),
              metadata={"format_version": str(FORMAT_VERSION)})
    for name, content in (("config.json", model.cfg.to_json()), *files.items(), ("finetune.json", log)):
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(f"{path}.part", "w") as f:
            json.dump(content, f, indent=2)
        os.replace(f"{path}.part", path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bridge.finetune_tiny", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, help="a LeRobot v2.1 or v3.0 dataset with meta/modality.json")
    parser.add_argument("--out", required=True, help="checkpoint directory to write (refused if it holds one)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps (default 3000)")
    parser.add_argument("--batch", type=int, default=64, help="samples per step (default 64)")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate, cosine to 0 (default 3e-4)")
    parser.add_argument("--episodes", type=int, default=None, help="use the first N episodes (default all)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the initial weights, noise and batches")
    parser.add_argument("--embodiment-tag", default="new_embodiment", choices=sorted(EMBODIMENT_IDS))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--contract", default=N15, choices=VERSIONS, help="checkpoint layout: n1.5 "
                        "(experiment_cfg/metadata.json, absolute actions) or n1.7 (N1.6/N1.7's processor files, "
                        "the arm's chunk relative to the query-time state) (default n1.5)")
    args = parser.parse_args(argv)
    for name in ("steps", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if os.path.exists(os.path.join(args.out, WEIGHTS_FILE)):
        parser.error(f"--out {args.out!r} already holds a checkpoint; give a new directory")
    if args.threads:
        torch.set_num_threads(args.threads)
    layout = resolve_layout(DATA_CONFIG)
    cfg = TinyConfig(video_keys=tuple(k for k, _ in layout.video), state_keys=layout.state,
                     action_keys=layout.action, language_key=layout.language_key,
                     action_horizon=layout.action_horizon, noise_seed=args.seed)
    start = time.perf_counter()
    try:
        samples = load_samples(args.dataset, cfg, args.episodes)
    except DatasetError as e:
        parser.exit(2, f"python -m bridge.finetune_tiny: error: --dataset: {e}\n")
    loaded = time.perf_counter()
    files = checkpoint_files(cfg, args.embodiment_tag, samples, args.contract)
    norm = normaliser_of(cfg, args.embodiment_tag, files)
    model, losses = train(samples, cfg, norm, args.steps, args.batch, args.lr, args.seed, args.embodiment_tag)
    trained = time.perf_counter()
    log = {"command": "python -m bridge.finetune_tiny " + " ".join(argv if argv is not None else []),
           "dataset": os.path.abspath(args.dataset), "episodes": samples["episodes"],
           "samples": int(len(samples["states"])), "steps": args.steps, "batch": args.batch, "lr": args.lr,
           "seed": args.seed, "contract": args.contract, "read_s": loaded - start, "train_s": trained - loaded,
           "loss_first_50": float(np.mean(losses[:50])), "loss_last_50": float(np.mean(losses[-50:])),
           "loss": losses[::max(1, len(losses) // 500)]}
    save(args.out, model, files, log)
    print(f"wrote {args.out}: {samples['episodes']} episodes, {log['samples']} samples, {args.steps} steps in "
          f"{log['train_s'] / 60:.1f} min; loss {log['loss_first_50']:.4f} -> {log['loss_last_50']:.4f}")
    return log


if __name__ == "__main__":
    main()
