"""Saving and loading: models (architecture + weights), objects of tensors and plain values (a
state dict, a checkpoint dict), weights only, and training checkpoints, as safetensors files
(``pip install "chainrule[io]"`` to save; reading needs NumPy alone). See
``chainrule.io.serialization``."""

from chainrule.io.serialization import (
    FORMAT_VERSION,
    ModelFileError,
    load,
    load_checkpoint,
    load_metadata,
    load_state_dict,
    save,
    save_checkpoint,
    save_state_dict,
)

__all__ = [
    "save",
    "load",
    "load_metadata",
    "save_state_dict",
    "load_state_dict",
    "save_checkpoint",
    "load_checkpoint",
    "ModelFileError",
    "FORMAT_VERSION",
]
