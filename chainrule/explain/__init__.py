"""Explaining a trained network: which input features drove an output, and by how much.

``chainrule.explain`` holds the attribution methods (gradient-based: saliency, input x gradient,
integrated gradients, SmoothGrad; perturbation-based: occlusion, feature ablation, LIME,
permutation importance) and one entry point, :func:`explain`; and loss landscapes around a
trained network (``loss_landscape_1d``: the loss along the line between two sets of weights,
``loss_landscape_2d``: a plane through the weights along two filter-normalised directions). See
``attributions.py`` and ``landscape.py`` for how they compute and which conventions they follow.

Example:
    >>> import chainrule as cr
    >>> f = lambda x: (x * cr.tensor([1.0, -2.0])).sum(1)
    >>> cr.explain.explain(f, [[3.0, 1.0]], method="input_x_gradient")
    array([[ 3., -2.]], dtype=float32)
"""

from chainrule.explain.attributions import (
    METHODS,
    LimeExplanation,
    PermutationImportance,
    explain,
    feature_ablation,
    input_x_gradient,
    integrated_gradients,
    integration_rule,
    lime,
    occlusion,
    permutation_importance,
    saliency,
    smoothgrad,
)
from chainrule.explain.landscape import LossLandscape, loss_landscape_1d, loss_landscape_2d

__all__ = [
    "explain",
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "integration_rule",
    "smoothgrad",
    "occlusion",
    "feature_ablation",
    "lime",
    "LimeExplanation",
    "permutation_importance",
    "PermutationImportance",
    "METHODS",
    "loss_landscape_1d",
    "loss_landscape_2d",
    "LossLandscape",
]
