"""Run an exported residual next to its base on an SO-101, or on the digital twin standing in for one.

    python -m train.deploy --export runs/x/export --robot sim --episodes 64          # score it on the twin
    python -m train.deploy --export runs/x/export --robot sim --perception model --command-latency-ms 0
    python -m train.deploy --export runs/x/export --robot so101 --port /dev/ttyACM0 --robot-id my_arm

Every tick (30 Hz): read the robot, estimate the sheet from the top camera (or, on the stand-in
only, take the twin's estimate noise model), build the residual's inputs exactly as the export
records them, add the residual to the base action (the IK drag base, from the same readings), keep
the running joint target, clamp it to the joint limits and to --max-relative-target of the present
position, and send it. The watchdog holds position when a reading or a tick is late (faults are
counted); Ctrl-C and a robot that stops answering end with the arm told to hold, then disconnected
(torque off on the SO-101). See mjx_gr00t.deploy.loop.

On the stand-in, episodes are placed by the twin's DR and scored (success, 95 % Wilson interval).
Real-time pacing is on for the SO-101 and off for the stand-in unless --realtime says otherwise.
--log DIR writes every tick (times, faults, base, residual, goal) as JSON lines.
"""

import mjx_gr00t  # noqa: F401  (sets the CPU XLA flags before JAX loads)

from typing import Any

from mjx_gr00t import cli_args

from bridge import deploy_side
from mjx_gr00t.deploy.cli import Args, deploy


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """`python -m train.deploy`; returns the run's record."""
    return deploy(cli_args.cli(Args, args=argv, description=__doc__), deploy_side)


if __name__ == "__main__":
    main()
