"""Same results before and after a refactor: runs three small fixed jobs through the public CLIs and
writes what they produced (metrics without wall-clock keys, export file hashes), so two checkouts can
be compared record by record.

    python -m benchmarks.identity --out before.json          # on the old commit
    python -m benchmarks.identity --out after.json --compare before.json

Jobs: the default PPO run's first 20 iterations (`--stop-after 20`), a SAC + HER run on fetch_push
(40 iterations, learning from iteration 8), and a short PPO run to completion whose export is hashed.
Bit-identity holds on one machine; another CPU may round differently, so this is a check, not a test.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from mjx_gr00t.machine import machine, machine_line

JOBS: dict[str, list[str]] = {
    "ppo_default_20": ["train.residual_ppo", "--stop-after", "20"],
    "sac_her_fetch_push_40": ["train.residual_sac", "--stop-after", "40", "--warmup-steps", "2048"],
    "ppo_export": ["train.residual_ppo", "--num-envs", "32", "--total-steps", "2048", "--eval-episodes", "8"],
}
CLOCK_KEYS = ("time/", "eval/wall_s", "groot/inference_time", "groot/render_time")


def _metrics(path: str) -> list[dict]:
    rows = []
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            rows.append({k: v for k, v in row.items() if not k.startswith(CLOCK_KEYS)})
    return rows


def _hashes(export_dir: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(export_dir)):
        with open(os.path.join(export_dir, name), "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def run_jobs() -> dict:
    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (module, *flags) in JOBS.items():
            out = os.path.join(tmp, name)
            cmd = [sys.executable, "-m", module, *flags, "--out", out, "--wandb", "disabled"]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            entry = {"command": cmd[2:-4] + ["--wandb", "disabled"], "metrics": _metrics(f"{out}/metrics.jsonl")}
            if os.path.isdir(f"{out}/export"):
                entry["export_sha256"] = _hashes(f"{out}/export")
                with open(f"{out}/export/residual.json") as f:
                    entry["export_json"] = json.load(f)
            record[name] = entry
    return record


def compare(a: dict, b: dict) -> list[str]:
    """Differences between two records, one line each (empty: identical)."""
    diffs = []
    for name in sorted((set(a) | set(b)) - {"meta"}):
        if name not in a or name not in b:
            diffs.append(f"{name}: only in one record")
            continue
        for key in ("metrics", "export_sha256", "export_json"):
            if a[name].get(key) != b[name].get(key):
                diffs.append(f"{name}: {key} differs")
    return diffs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="JSON file to write the record to")
    p.add_argument("--compare", help="an earlier record to compare with; exit 1 on any difference")
    args = p.parse_args()
    record = run_jobs()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    record["meta"] = {"machine": machine_line(machine()), "commit": commit, "compared_with": args.compare}
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            diffs = compare(json.load(f), record)
        print("\n".join(diffs) if diffs else "identical: metrics and exports match bit for bit")
        sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
