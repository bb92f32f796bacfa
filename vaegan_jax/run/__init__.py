"""Workdir and process plumbing with no model knowledge: checkpoints,
config files and their upgrades, the workdir claim, multi-process set-up and
image files."""
