"""Diffusion parts shared by all pipelines: patchifiers, schedules, guiders, steps, noise."""
