"""Errors a user can act on. Each message says what is wrong and what to do about it."""


class LTXError(Exception):
    """Base class for every error this package raises on bad input."""


class CheckpointError(LTXError):
    """A weights file is missing, unreadable, truncated or of the wrong kind."""


class WeightsMismatchError(CheckpointError):
    """A checkpoint's tensors do not match the model built from its config."""


class ConfigError(LTXError):
    """A config value is missing, malformed or not supported by this port."""


class InputShapeError(LTXError, ValueError):
    """A tensor given to a model has the wrong rank, channel count or size."""


class LoraError(LTXError):
    """A LoRA file is not a LoRA, or does not fit the transformer it is applied to."""
