"""Pipelines: short compositions of shared blocks (latent states, denoising loop, guidance)."""
