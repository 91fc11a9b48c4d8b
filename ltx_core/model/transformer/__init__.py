"""The LTX-2 audio-video diffusion transformer."""

from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.model import LTXModel, Modality, X0Model, to_denoised
from ltx_core.model.transformer.perturbations import BatchedPerturbations, Perturbation, PerturbationType

__all__ = [
    "BatchedPerturbations",
    "LTXModel",
    "Modality",
    "Perturbation",
    "PerturbationType",
    "TransformerConfig",
    "X0Model",
    "to_denoised",
]
