"""MLX model code, one package per part of LTX-2's anatomy."""
