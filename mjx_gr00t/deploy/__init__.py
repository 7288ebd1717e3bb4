"""Running an exported residual next to its base on an SO-101 (`python -m train.deploy`).

- `robot`: the `Robot` interface (LeRobot's shape) and SO-101 joint units from the robot's own
  calibration;
- `sim_robot`: `sim`, the digital twin as a stand-in robot, for scoring a deployment;
- `so101`: LeRobot's follower, imported only when asked for;
- `loop`: the 30 Hz loop with its guards and watchdog.
The controller (torch residual + base) is `bridge.deploy_policy`.
"""
