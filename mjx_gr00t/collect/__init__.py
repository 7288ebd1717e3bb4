"""Sim demonstrations on the paper rig's twin, written as LeRobot datasets (`train.collect`)."""
