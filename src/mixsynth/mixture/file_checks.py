"""How a stored :class:`~mixsynth.gaussian_mixture.GaussianMixture` is checked: the shapes of its
tensors and the checks run once they are read (the table itself is registered beside the class)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mixsynth.core import Params, family
from mixsynth.core.families.gaussian import triangular_factor_problem
from mixsynth.modelfile import ModelFileError
from mixsynth.modelfile.tables import Shape, _positive, _same_length

if TYPE_CHECKING:
    from mixsynth.gaussian_mixture import GaussianMixture


def _precision_cholesky_shape(gm: GaussianMixture) -> Shape:
    K, d = gm.n_components, gm.n_features_in_
    return {
        "full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,),
        "factor": (K, d, d),  # the Cholesky factors of the precisions, kept for scikit-learn
    }[gm.covariance_type]


def _loadings_shape(gm: GaussianMixture) -> Shape:
    return (gm.n_components, gm.n_features_in_, int(gm.n_factors or 0))


def _precision_cholesky_check(a: NDArray[np.float64], gm: GaussianMixture) -> str | None:
    if gm.covariance_type in ("diag", "spherical"):
        return _positive(a, gm)
    return triangular_factor_problem(a)


def _finish_mixture(gm: GaussianMixture, where: str) -> None:
    _same_length(where, gm, gm.n_features_in_, "feature_names_in_")
    try:
        name = gm._family_name()  # the recorded covariance_type, shrinkage and n_factors
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    is_factor = gm.covariance_type == "factor"
    for attr in ("loadings_", "noise_variance_"):
        if (getattr(gm, attr, None) is None) == is_factor:
            raise ModelFileError(
                f"tensor '{where}.{attr.strip('_')}' is "
                f"{'missing' if is_factor else 'present'} for covariance_type="
                f"{gm.covariance_type!r}"
            )
        if not is_factor and hasattr(gm, attr):
            delattr(gm, attr)  # the optional tensor was absent: no attribute, as after fit
    if is_factor:
        try:
            params = family(name).from_tensors({
                "weights": gm.weights_, "means": gm.means_, "loadings": gm.loadings_,
                "noise_variance": gm.noise_variance_,
            })
        except ValueError as exc:
            raise ModelFileError(f"{where}: {exc}") from None
        with np.errstate(all="ignore"):
            gm._set_params(params)
        return
    with np.errstate(all="ignore"):
        gm._set_params(Params(gm.weights_, gm.means_, gm.precisions_cholesky_,
                              gm.covariance_type))
    if not (np.all(np.isfinite(gm.precisions_)) and np.all(np.isfinite(gm.covariances_))):
        raise ModelFileError(
            f"tensor '{where}.precisions_cholesky': the precisions or covariances it implies "
            "are not finite"
        )
