"""Fetch-like goal-conditioned tasks (Reach, Push, PickAndPlace), one module per task.

Semantics of Gymnasium-Robotics Fetch (see shared/reference/fetch.md), on our own primitive model
`envs_xml/fetch_like.xml`. `config` holds the shared, validated `FetchConfig` and its domain
randomisation, `task` the physics, observation and reward (`FetchTask`, `make_env`); the task
modules `reach`, `push` and `pick_place` only set defaults.

Timing: physics timestep 0.002 s, 20 physics steps per action (dt = 0.04 s, 25 Hz), 50-step
episodes that end by the time limit only (success never ends an episode: `EpisodeEnv(..., terminate_on_success=False)`).

Action: (4,) in [-1, 1] = dx, dy, dz, gripper. dx..dz times `action_scale` (0.05 m) move the
gripper's position target, clipped to a workspace box over the table. The gripper part is a delta
on each finger's current opening (ctrl = opening + a, clipped to 0..0.2, as in Fetch); in Reach
and Push it is ignored and the fingers are held closed.

Observation: one flat float32 vector = [observation, achieved_goal (3), desired_goal (3)]:
  observation, with an object (25): grip_pos 3, object_pos 3, object_rel_pos 3, gripper_state 2,
    object_rot 3 (Euler x-y-z, R = Rz Ry Rx), object_velp - grip_velp 3, object_velr 3 (world
    frame), grip_velp 3, gripper_vel 2; every velocity multiplied by dt;
  observation, Reach (10): grip_pos 3, gripper_state 2, grip_velp 3, gripper_vel 2.
  achieved_goal: the object's position (the grip site's for Reach). desired_goal: the target.
`split_obs` gives the dict view; `spec.goal` the slices; `compute_reward` is vectorised.

Reward: sparse -(d > 0.05) or dense -d, d = |achieved - desired|; success d < 0.05.

Deliberate differences from Fetch:
- no arm and no mocap weld: the gripper rides three stiff, damped slide servos (see the XML),
  because our engines step physics through `ctrl` and keep only qpos/qvel;
- the observation is one flat vector (`split_obs` gives Fetch's dict);
- the scene's own frame: the table's centre at x = y = 0, its top at z = 0.4; the grip site starts
  over the table's centre, `gripper_start_height` (0.1 m) + `gripper_extra_height` above it;
- the object's position takes the first of a fixed number of rejection draws (then a fallback),
  so that reset stays a pure, vmappable function;
- blocked fingers are commanded closed instead of having their qpos overwritten every step;
- domain randomisation (`FetchDRConfig`), which Fetch does not have.
"""
