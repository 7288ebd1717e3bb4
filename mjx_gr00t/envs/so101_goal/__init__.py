"""Goal-conditioned tasks on the SO-101 itself (Reach, Push, PickAndPlace): Fetch's semantics on the
twin's arm (`envs_xml/so101_goal.xml`), which the seed project planned ("map SO-101 joint space to
Fetch's Cartesian space"). `config` holds `So101GoalConfig` and its DR, `task` the physics,
observation and reward, `tasks` the three tasks' defaults.

Timing, as Fetch: physics 0.002 s, 20 physics steps per action (dt = 0.04 s, 25 Hz), 50-step
episodes that end by the time limit only.

Action: (4,) in [-1, 1] = dx, dy, dz, gripper.
- dx..dz times `action_scale` (0.05 m) move the target of the grasp point (the point between the
  jaws where a grasped cube's centre sits), clipped to a workspace box in front of the arm.
- Inside the jitted step, the target becomes joint targets by damped-least-squares IK
  (`mjx_gr00t.ik_dls`) from the previous joint targets: pan, lift, elbow and wrist flex place the
  point with the jaws pointing down, the wrist roll is held so that the jaws open across the
  arm's reach.
- The gripper part moves the jaw's target by up to `jaw_scale` rad from its current angle (Fetch's
  finger rule: pressing on a held cube squeezes it, up to the servo's torque limit). Reach and Push
  hold the jaws shut.
- The servos are the twin's (kp 17.8 N m / rad, 3.35 N m): under load the arm sags a few mm below
  its targets, as the real one does.

Observation: Fetch's layout: [observation, achieved_goal (3), desired_goal (3)].
- With a cube (25): grip_pos 3, object_pos 3, object_rel_pos 3, gripper_state 2 (half the gap
  between the fingertips, twice, as Fetch's finger pair), object_rot 3, object_velp - grip_velp 3,
  object_velr 3, grip_velp 3, gripper_vel 2; velocities times dt.
- Reach (10): grip_pos 3, gripper_state 2, grip_velp 3, gripper_vel 2.
- The arm's parts come from its joint readings by forward kinematics (what a real SO-101 reports).
  The cube's pose and velocity are simulator state, as in Fetch: a real rig needs a tracker for them.

Reward: sparse -(d > 0.05) or dense -d; success d < 0.05.

The cube: 30 mm (20 g), its yaw facing the arm's base, so that the jaws meet two faces; the
jaws close on it at about 0.35 rad of their 1.75 rad. Goals: xy in front of the arm, within
its reach; for PickAndPlace, half of them raised by up to 9 cm.
"""
