"""Gradio front end. Talks to ltx_core only through its public API; knows nothing of MLX."""
