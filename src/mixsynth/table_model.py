"""What a :class:`~mixsynth.Synthesizer` fitted on a mixed table holds: :class:`TableMixture`.

Design (issue 11)
-----------------
* **Columns** are learnt by a :class:`~mixsynth.tables.TableCodec`: numeric kinds (continuous,
  integer, dates and durations as numbers in their resolution) form a float block with NaN
  gaps; discrete kinds (categorical, ordered, boolean) a block of codes with -1 gaps.
* **The numeric block is standardised per column** (mean and standard deviation of the
  observed values). No PCA rotation: it is undefined for rows with gaps, and a full covariance
  per component captures the correlations anyway. Before that, recorded values are
  **dequantised** over their resolution cell (1 for integers and dates in their unit,
  ``10**-p`` for ``p`` decimals), samples rounded back: repeated values as exact points make
  density spikes that held-out likelihood rewards (on diamonds, by over a nat per row).
* **Selection** (:func:`~mixsynth.tables.mixture.select_mixed`) follows the numeric
  selection's plan (K coarse to fine per covariance type and ``reg_covar``) and the realism
  selection's screening: held-out scores on :data:`SCREEN_FOLDS` fold, the short list scored
  on every fold.
* **Missingness is modelled**: the pattern of gaps of each row (which of the columns with gaps
  are missing) is one more categorical column of the discrete block, its levels the patterns
  seen in the data, so the mixture learns how often each column is missing, which gaps occur
  together and with what values. With more than :data:`MAX_PATTERNS` distinct patterns each
  column with gaps gets its own two-level indicator instead (rates exact, co-occurrence through
  the components only). ``missing="model"`` samples rows with gaps in that way;
  ``missing="complete"`` ignores the patterns and samples complete rows.
* **The mixture** is the :class:`~mixsynth.core.families.categorical.Categorical` family over
  ``[standardised numbers | one-hot codes | one-hot patterns]``: a Gaussian over the numbers
  (any covariance type) times independent categorical distributions per discrete column and
  indicator. A categorical gap is an all-zero one-hot group: marginalised in the likelihood and
  the counts. A numeric gap needs the Gaussian families' missing-value EM; until they take NaN
  (:func:`continuous_gaps_supported`), a numeric column with gaps is refused, naming it.
  A table without discrete columns or gaps gets one constant one-level column (probability 1:
  it changes neither the likelihood nor the parameter count).
* **Densities** (:meth:`TableMixture.score_samples`) are in model units: the numbers'
  density after standardisation is corrected by its Jacobian (``- Σ log scale`` over observed
  numbers), so it is the density of the numbers in their own units (dates: in their
  resolution) times the probabilities of the categories and of the missingness pattern.
* **Heaped numbers** (a column with few distinct values: diamonds' `table`, whole numbers with
  a few halves) take their training marginal (:mod:`mixsynth.heaps`): a drawn value goes
  through the model's marginal CDF to the training rows' quantile, before rounding.
* **Conditioning** (``given=``) is exact: each component is reweighted by the evidence of the
  given values (``theta_k[level]`` for a category, the Gaussian marginal for numbers, and the
  given columns being observed), numbers are drawn from each component's Gaussian conditional
  and categories from the component's distributions; never by rejection.

Why one module over 600 lines: the fitted model, its fit and its model-file table change
together (a field of the model is a step of the fit and an entry of the file).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from mixsynth.conditional import full_covariances
from mixsynth.core import Params, family, sample_mixture
from mixsynth.core.families.categorical import MARKER, Categorical
from mixsynth.heaps import DRAWS, HeapMap, heaped_columns
from mixsynth.modelfile import Attr, ModelFileError, Table, Tensor, register
from mixsynth.modelfile.attributes import _decimals, _int, _list
from mixsynth.modelfile.tables import _positive, _probabilities
from mixsynth.modelfile.values import _from_json, _short, _to_json
from mixsynth.support import decimals_of
from mixsynth.whitening.moments import observed_mean_and_spread

if TYPE_CHECKING:  # pandas and the codec load when a table is fitted or a table model read
    import pandas as pd

    from mixsynth.tables import TableCodec

__all__ = ["MISSING", "TableMixture", "continuous_gaps_supported", "fit_table"]

#: Held-out folds candidates are screened on before a short list is scored on all (as realism
#: does). Diamonds' default fit: 106 s with two folds and a short list of 4, 54 s with one and 2.
SCREEN_FOLDS = 1

Array = NDArray[np.float64]

#: ``missing=`` options of the synthesizer.
MISSING = ("model", "complete")


def continuous_gaps_supported() -> bool:
    """Whether the Gaussian families score rows with NaN (the missing-value EM)."""
    params = Params(np.ones(1), np.zeros((1, 2)), np.eye(2)[None], "full")
    try:
        with np.errstate(all="ignore"):
            out = family("full").log_prob(np.array([[np.nan, 0.0]]), params)
    except (ValueError, FloatingPointError):
        return False
    return bool(np.all(np.isfinite(out)))


@dataclass(frozen=True, eq=False)  # arrays inside: equal only to itself
class TableMixture:
    """A mixed mixture over a table's columns (module docstring).

    Parameters
    ----------
    codec : TableCodec
    mean, scale : ndarray of shape (numeric columns,)
        The standardisation of the numeric block.
    params : Params
        Of the :class:`~mixsynth.core.families.categorical.Categorical` family over the
        standardised numbers, the codes and the missingness patterns.
    missingness : tuple of tuple of tuple of int
        The missingness columns of the discrete block, in order: each is the tuple of its
        levels, each level the (sorted) positions, in the codec's columns, of the columns
        missing in that pattern (``()``: none missing).
    missing : {"model", "complete"}
    candidates : tuple of dict, optional
        The candidates tried: ``n_components``, ``covariance_type``, ``reg_covar``, ``score``
        (held-out mean log-likelihood, or minus BIC / AIC; ``None`` for a failed fit).
    memorization : dict, optional
    decimals : ndarray of int of shape (n_features,), optional
        Decimal places each column was recorded with, in the codec's column order (-1: none
        detected, or a discrete column): sampled numbers are rounded to them, as the
        numeric path does (:func:`mixsynth.support.decimals_of`). ``None`` (models saved
        before it was recorded): numbers are returned as drawn.
    heaps : HeapMap, optional
        The heaped numeric columns (positions in the numeric block) and their training
        marginals; ``None`` when there are none (and in files written before 2026-12-04).
    """

    codec: TableCodec
    mean: Array
    scale: Array
    params: Params
    missingness: tuple[tuple[tuple[int, ...], ...], ...]
    missing: str = "model"
    candidates: tuple[dict[str, Any], ...] | None = None
    memorization: dict[str, Any] | None = None
    decimals: NDArray[np.int64] | None = None
    heaps: HeapMap | None = None

    @property
    def heaps_(self) -> HeapMap:
        """:attr:`heaps`, an AttributeError when there are none (then the model file has no
        entry, and a file written before heaps existed saves back byte for byte)."""
        if self.heaps is None:
            raise AttributeError("this table model maps no heaped column")
        return self.heaps

    # what a WhitenedMixture / ClassConditional exposes and a table model has not
    selection: None = None
    classes: None = None
    whitener: None = None
    mixture: None = None
    support_transform: None = None

    @property
    def family(self) -> Categorical:
        fam = self.params.family
        assert isinstance(fam, Categorical)
        return fam

    # the parameters by name, as model files store them
    @property
    def family_name(self) -> str:
        return self.params.covariance_type

    @property
    def weights(self) -> Array:
        return self.params.weights

    @property
    def means(self) -> Array:
        return self.params.means

    @property
    def precisions_cholesky(self) -> Array:
        return self.params.precisions_cholesky

    @property
    def log_theta(self) -> Array:
        return np.asarray(self.params.extra["log_theta"])

    @property
    def n_features(self) -> int:
        return len(self.codec.specs)

    @property
    def n_components(self) -> int:
        return self.params.n_components

    @property
    def n_parameters(self) -> int:
        return self.family.n_parameters(self.n_components,
                                        self.params.n_features + self.family.n_levels)

    @property
    def lower_bounds(self) -> Array:
        return np.array([-np.inf if s.is_discrete else s.lower for s in self.codec.specs])

    @property
    def upper_bounds(self) -> Array:
        return np.array([np.inf if s.is_discrete else s.upper for s in self.codec.specs])

    @property
    def integer_columns(self) -> NDArray[np.bool_]:
        return np.array([not s.is_discrete and s.integer for s in self.codec.specs])

    def parts(self) -> tuple[tuple[Any, float, TableMixture], ...]:
        return ((None, 1.0, self),)

    # ------------------------------------------------------------------ blocks
    def blocks(self, df: pd.DataFrame) -> tuple[Array, NDArray[np.intp]]:
        """Standardised numbers and the codes with the indicator block (and the constant
        column of a table without discrete columns)."""
        X, codes = self.codec.encode(df)
        return (X - self.mean) / self.scale, _with_patterns(self.codec, X, codes,
                                                            self.missingness)

    def score_samples(self, df: pd.DataFrame) -> Array:
        """``log p(row)``: numbers in their units (observed ones), categories, missingness."""
        Z, codes = self.blocks(df)
        X = np.hstack([Z, self.family.one_hot(codes)])
        jac = np.where(np.isnan(Z), 0.0, np.log(self.scale)).sum(axis=1)
        return logsumexp(self.family.weighted_log_prob(X, self.params), axis=1) - jac

    # ------------------------------------------------------------------ sampling
    def sample_frame(self, n: int, rng: np.random.Generator,
                     given: Mapping[Any, Any] | None = None,
                     temperature: float = 1.0) -> pd.DataFrame:
        """``n`` rows as a DataFrame in the fitted columns and dtypes.

        At ``temperature`` ``t`` each component's Gaussian block has covariance ``t Σ_k``
        (in standardised units) and each of its categorical distributions (missingness
        patterns included) is ``p^(1/t)`` renormalised; the weights are the model's and
        ``given=`` conditions that tempered mixture exactly. ``t = 1`` is the model itself.
        """
        fam = self.family
        exact: dict[int, float] = {}
        if given:
            Z, codes = self._sample_given(n, rng, given, exact, temperature)
        else:
            X, _ = sample_mixture(self.params, n, rng, temperature=temperature)
            Z, onehot = fam.split(X)
            codes = fam.codes(onehot)
        return self._decode(Z, codes, rng, exact)

    def _decode(self, Z: Array, codes: NDArray[np.intp], rng: np.random.Generator,
                exact: Mapping[int, float] | None = None) -> pd.DataFrame:
        X = Z * self.scale + self.mean
        if self.heaps is not None:
            self.heaps.apply(X, np.ones(X.shape[1], dtype=bool), rng)  # given: set below
        if self.decimals is not None:  # the precision of the data (integers: the codec)
            for j, i in enumerate(self.codec.numeric):
                if self.decimals[i] >= 0 and not self.codec.specs[i].integer:
                    X[:, j] = np.round(X[:, j], int(self.decimals[i]))
        for j, x in (exact or {}).items():  # given numbers come back exactly as given
            X[:, j] = x
        J = len(self.codec.discrete)
        data_codes = codes[:, :J].copy()
        if self.missing == "model":
            num = {i: j for j, i in enumerate(self.codec.numeric)}
            dis = {i: j for j, i in enumerate(self.codec.discrete)}
            for m, levels in enumerate(self.missingness):
                for level, pattern in enumerate(levels):
                    gap = codes[:, J + m] == level
                    for i in pattern:
                        if i in num:
                            X[gap, num[i]] = np.nan
                        else:
                            data_codes[gap, dis[i]] = -1
        return self.codec.decode(X, data_codes)

    def _sample_given(self, n: int, rng: np.random.Generator, given: Mapping[Any, Any],
                      exact: dict[int, float], temperature: float = 1.0,
                      ) -> tuple[Array, NDArray[np.intp]]:
        """Standardised numbers and codes given ``given`` (from the mixture tempered at
        ``temperature``); fills ``exact`` with the given numbers in model units, by
        numeric-block position."""
        fam, p = self.family, self.params
        K, d = p.n_components, p.n_features
        log_theta = np.asarray(p.extra["log_theta"])
        starts = np.concatenate([[0], np.cumsum(fam.levels)[:-1]]).astype(int)
        if temperature != 1.0:  # p^(1/t), renormalised per column
            log_theta = log_theta / temperature
            for s, m in zip(starts, fam.levels, strict=True):
                log_theta[:, s : s + m] -= logsumexp(log_theta[:, s : s + m], axis=1,
                                                     keepdims=True)
        logw = np.log(p.weights).copy()
        allowed: dict[int, NDArray[np.intp]] = {}  # discrete block column -> allowed levels
        fixed_num: dict[int, float] = {}  # numeric block position -> standardised value
        num = {i: j for j, i in enumerate(self.codec.numeric)}
        dis = {i: j for j, i in enumerate(self.codec.discrete)}
        J = len(self.codec.discrete)
        for key, value in given.items():
            spec = self.codec.spec(key)
            i = self.codec.specs.index(spec)
            if spec.is_discrete:
                allowed[dis[i]] = np.array([self.codec.code_of(key, value)])
            else:
                import pandas as pd

                from mixsynth.tables.codec import _to_numbers

                x = float(_to_numbers(spec, pd.Series([value]))[0])
                if not np.isfinite(x) or not spec.lower <= x <= spec.upper:
                    raise ValueError(
                        f"given value {value!r} for column {key!r} is outside the data's "
                        f"range [{_shown(spec, spec.lower)}, {_shown(spec, spec.upper)}]."
                    )
                j = num[i]
                fixed_num[j] = (x - self.mean[j]) / self.scale[j]
                exact[j] = x
            for m, levels in enumerate(self.missingness):  # a given column is observed
                if any(i in pattern for pattern in levels):
                    ok = [lv for lv, pattern in enumerate(levels) if i not in pattern]
                    prev = allowed.get(J + m)
                    allowed[J + m] = np.array(ok if prev is None else
                                              [lv for lv in prev if lv in ok], dtype=np.intp)
        for j, levels_ok in allowed.items():
            if levels_ok.size == 0:
                raise ValueError("given= columns that are never observed together.")
            logw += logsumexp(log_theta[:, starts[j] + levels_ok], axis=1)
        g = np.array(sorted(fixed_num), dtype=np.intp)
        f = np.setdiff1d(np.arange(d), g)
        cond_means = np.broadcast_to(p.means[:, f], (K, f.size)).copy()
        cond_chol = np.zeros((K, f.size, f.size))
        if d:
            gauss = fam.gaussian
            cov = full_covariances(
                gauss.covariances_from_precisions_cholesky(p.precisions_cholesky),  # type: ignore[attr-defined]
                gauss.name, K, d)
            if temperature != 1.0:
                cov = cov * temperature
            xg = np.array([fixed_num[j] for j in g])
            for k in range(K):
                S = cov[k]
                if g.size:
                    L = np.linalg.cholesky(S[np.ix_(g, g)])
                    r = np.linalg.solve(L, xg - p.means[k, g])
                    logw[k] += -0.5 * r @ r - np.log(np.diag(L)).sum() - 0.5 * g.size * np.log(
                        2 * np.pi)
                    B = np.linalg.solve(L, S[np.ix_(g, f)])  # L^-1 S_gf
                    cond_means[k] = p.means[k, f] + B.T @ r
                    Sf = S[np.ix_(f, f)] - B.T @ B
                else:
                    Sf = S
                cond_chol[k] = np.linalg.cholesky(0.5 * (Sf + Sf.T)) if f.size else Sf
        w = np.exp(logw - logsumexp(logw))
        counts = rng.multinomial(n, w / w.sum())
        labels = np.repeat(np.arange(K), counts)
        Z = np.empty((n, d))
        if f.size:
            E = rng.standard_normal((n, f.size))
            Z[:, f] = cond_means[labels] + np.einsum("nij,nj->ni", cond_chol[labels], E)
        for j in g:
            Z[:, j] = fixed_num[int(j)]
        theta = np.exp(log_theta)
        codes = np.empty((n, len(fam.levels)), dtype=np.intp)
        for j, (s, m) in enumerate(zip(starts, fam.levels, strict=True)):
            probs = theta[:, s : s + m]
            if j in allowed:  # only the allowed levels, in their proportions
                mask = np.zeros(m)
                mask[allowed[j]] = 1.0
                probs = probs * mask
            cum = np.cumsum(probs, axis=1)[labels]
            u = rng.random(n) * cum[:, -1]
            codes[:, j] = np.minimum((u[:, None] >= cum).sum(axis=1), m - 1)
        order = rng.permutation(n)
        return Z[order], codes[order]


def _shown(spec: Any, x: float) -> Any:
    """A bound in the column's own units for messages (dates as dates)."""
    if spec.unit is None:
        return x
    from mixsynth.tables.codec import _from_numbers

    return _from_numbers(spec, np.array([x])).iloc[0]


#: At most this many distinct missingness patterns are modelled jointly (one categorical
#: column); beyond, one indicator per column with gaps.
MAX_PATTERNS = 64

Missingness = tuple[tuple[tuple[int, ...], ...], ...]


def _gaps(codec: TableCodec, X: Array, codes: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Which cell is a gap, (n, columns) in the codec's column order."""
    out = np.zeros((X.shape[0], len(codec.specs)), dtype=bool)
    for j, i in enumerate(codec.numeric):
        out[:, i] = np.isnan(X[:, j])
    for j, i in enumerate(codec.discrete):
        out[:, i] = codes[:, j] < 0
    return out


def missingness_columns(codec: TableCodec, X: Array, codes: NDArray[np.intp]) -> Missingness:
    """The missingness columns of a table (:class:`TableMixture`): one of the joint patterns,
    or one indicator per column with gaps when there are more than :data:`MAX_PATTERNS`."""
    cols = [i for i, s in enumerate(codec.specs) if s.missing]
    if not cols:
        return ()
    gaps = _gaps(codec, X, codes)[:, cols]
    patterns = np.unique(gaps, axis=0)
    if len(patterns) <= MAX_PATTERNS:
        return (tuple(tuple(c for c, g in zip(cols, row, strict=True) if g)
                      for row in patterns),)
    return tuple(((), (c,)) for c in cols)


def _with_patterns(codec: TableCodec, X: Array, codes: NDArray[np.intp],
                   missingness: Missingness) -> NDArray[np.intp]:
    """The codes, then each missingness column's code (-1, marginalised, for a pattern the
    model has not seen), or the constant column of a table without discrete columns."""
    gaps = _gaps(codec, X, codes)
    cols = [codes]
    for levels in missingness:
        members = sorted({c for pattern in levels for c in pattern})
        lookup = {pattern: lv for lv, pattern in enumerate(levels)}
        keys = [tuple(c for c in members if row[c]) for row in gaps]
        cols.append(np.array([lookup.get(k, -1) for k in keys], dtype=np.intp)[:, None])
    if not codec.discrete and not missingness:  # a constant column: module docstring
        cols.append(np.zeros((X.shape[0], 1), dtype=np.intp))
    return np.hstack(cols)


def layout(codec: TableCodec, missingness: Missingness) -> tuple[int, ...]:
    """Levels of the family's discrete block: the codes', then the missingness columns'."""
    levels = (*codec.levels, *(len(levels) for levels in missingness))
    return levels or (1,)


def fit_table(
    df: pd.DataFrame,
    *,
    column_kinds: Mapping[Any, str] | None,
    missing: str,
    ks: Sequence[int] | None,
    covariance_types: Sequence[str],
    reg_covars: Sequence[float],
    criterion: str,
    cv: int,
    tol: float,
    max_iter: int,
    n_init: int,
    rng: np.random.Generator,
    default_ks: Sequence[int],
) -> TableMixture:
    """Learn the codec, standardise, select and fit the mixed mixture (module docstring).

    Raises
    ------
    ValueError
        For bad columns (naming them), a numeric column with gaps while the Gaussian families
        do not take them, or too few rows.
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}.")
    if len(df) < 2:
        raise ValueError(f"Found {len(df)} row(s) while a minimum of 2 is required.")
    from mixsynth.selection.plans import search_plan
    from mixsynth.selection.spaces import REALISM_SHORTLIST
    from mixsynth.tables import TableCodec
    from mixsynth.tables.mixture import select_mixed

    codec = TableCodec.fit(df, column_kinds)
    if criterion == "heldout" and len(df) < cv:  # the numeric selection's fallback
        warnings.warn(
            f"Cannot cross-validate {len(df)} rows in {cv} folds: selected by BIC over every "
            "row instead.", UserWarning, stacklevel=5,
        )
        criterion = "bic"
    gaps = [s.name for i, s in enumerate(codec.specs) if s.missing and i in codec.numeric]
    if gaps and not continuous_gaps_supported():
        raise ValueError(
            f"Column {gaps[0]!r} is numeric and contains NaN (missing values); mixsynth models "
            "gaps in categorical columns but not yet in numeric ones: drop or fill those rows, "
            "or declare the column categorical in column_kinds."
        )
    X, codes = codec.encode(df)
    mean, scale = observed_mean_and_spread(X)  # np.nanstd overflows near 1e200
    scale = np.where(scale > 0, scale, 1.0)
    # recorded values are dequantised: a uniform jitter of one resolution cell (1 for
    # integers, counts and dates in their unit; 10**-p for a column recorded to p decimals)
    # spreads each value over its cell, so the density does not spike on the repeated values
    # (which would make held-out likelihood reward components collapsed onto them); samples
    # are rounded back to the cell
    recorded = decimals_of(X)
    integer = np.array([codec.specs[i].integer for i in codec.numeric], dtype=bool)
    cell = np.where(integer, 1.0, np.where(recorded >= 0, 10.0 ** -recorded.astype(float), 0.0))
    jitter = (rng.random(X.shape) - 0.5) * cell[None, :]
    Xq = np.where(np.isnan(X), X, X + jitter)
    Z = (Xq - mean) / scale
    missingness = missingness_columns(codec, X, codes)
    allcodes = _with_patterns(codec, X, codes, missingness)
    levels = layout(codec, missingness)
    n_distinct = len(np.unique(np.hstack([np.nan_to_num(Z), allcodes]), axis=0))
    cap = n_distinct * (cv - 1) // cv if criterion == "heldout" else n_distinct
    kept = [k for k in (default_ks if ks is None else ks) if k <= max(cap, 1)]
    if not kept:
        raise ValueError(
            f"Every candidate n_components {list(ks or [])} is larger than the number of "
            f"distinct rows ({n_distinct}); use fewer components."
        )
    # the numeric selection's plan (K coarse to fine) and the realism selection's screening:
    # every candidate on one fold, its short list on every fold
    fit, scored = select_mixed(
        Z, allcodes, levels, ks=kept, covariance_types=covariance_types,
        reg_covars=reg_covars, criterion=criterion, cv=cv, tol=tol, max_iter=max_iter,
        n_init=n_init, rng=rng, plan=lambda ks: search_plan("auto", ks),
        screen_folds=SCREEN_FOLDS, shortlist=REALISM_SHORTLIST,
    )
    # "folds": how many held-out folds a score averages (1: screened out; 0: AIC / BIC)
    candidates = tuple({"n_components": s.n_components, "covariance_type": s.covariance_type,
                       "reg_covar": s.reg_covar, "folds": s.folds,
                       "score": s.score if np.isfinite(s.score) else None} for s in sorted(
                           scored, key=lambda c: (c.covariance_type, c.reg_covar, c.n_components)))
    decimals = np.full(len(codec.specs), -1, dtype=np.int64)
    decimals[list(codec.numeric)] = recorded
    heaped = heaped_columns(X)
    heaps = None
    if heaped.any():  # the model's numbers as drawn, before rounding
        fam = fit.params.family
        assert isinstance(fam, Categorical)
        draws, _ = fam.split(sample_mixture(fit.params, DRAWS, rng)[0])
        heaps = HeapMap.fit(X, draws * scale + mean, heaped)
    return TableMixture(codec, mean, scale, fit.params, missingness, missing, candidates,
                        decimals=decimals, heaps=heaps)


# ------------------------------------------------------------------------------ model files
# How a TableMixture is stored in a model file (mixsynth.modelfile): the child "table" of a
# synthesizer. Attrs: ``codec`` (TableCodec.to_dict: kinds, dtypes, categories in order,
# units), ``family_name`` ("full-categorical(3,2)"), ``n_components``, ``missingness``,
# ``missing``, ``candidates``; tensors ``mean``, ``scale`` (c,), ``weights`` (K,), ``means``
# (K, c), ``precisions_cholesky`` (by covariance type), ``log_theta`` (K, L).


def _codec(value: Any) -> TableCodec:
    from mixsynth.tables import TableCodec

    data = _from_json(value, objects=True)
    if not isinstance(data, dict):
        raise TypeError(f"expected an object, got {_short(value)}")
    return TableCodec.from_dict(data)


def _mixed_family(name: Any) -> Categorical:
    if not isinstance(name, str) or MARKER not in name:
        raise ValueError(f"expected a mixed family name, got {_short(name)}")
    fam = family(name)
    if not isinstance(fam, Categorical):
        raise ValueError(f"{name!r} is not a mixed family")
    return fam


def _family_name(value: Any) -> str:
    return _mixed_family(value).name


def _missingness(value: Any) -> Missingness:
    out = tuple(tuple(tuple(_int(0)(c) for c in _list(pattern)) for pattern in _list(levels))
                for levels in _list(value))
    for levels in out:
        if len(set(levels)) != len(levels) or any(list(p) != sorted(set(p)) for p in levels):
            raise ValueError("missingness patterns repeat or are not sorted")
    return out


def _missing_option(value: Any) -> str:
    if value not in MISSING:
        raise ValueError(f"expected one of {MISSING}, got {_short(value)}")
    return str(value)


def _candidates(value: Any) -> tuple[dict[str, Any], ...] | None:
    out = _from_json(value, objects=True)
    if out is None:
        return None
    if not isinstance(out, list) or not all(isinstance(c, dict) for c in out):
        raise TypeError(f"expected a list of objects, got {_short(value)}")
    return tuple(out)


def _decimals_or_none(value: Any) -> NDArray[np.int64] | None:
    return None if value is None else _decimals(value)


def _pc_shape(t: Any) -> tuple[int, ...]:
    fam = _mixed_family(t.family_name)
    return tuple(fam.tensor_shapes(t.n_components, len(t.codec.numeric) + fam.n_levels)[
        "precisions_cholesky"])


def _finish_table(t: Any, where: str) -> None:
    fam = _mixed_family(t.family_name)
    codec = t.codec
    if fam.levels != layout(codec, t.missingness):
        raise ModelFileError(f"{where}: family {t.family_name!r} does not match the codec's "
                             f"levels {layout(codec, t.missingness)}")
    heaps = getattr(t, "heaps_", None)
    if heaps is not None and heaps.columns[-1] >= len(codec.numeric):
        raise ModelFileError(f"{where}: heaps name a column beyond the "
                             f"{len(codec.numeric)} numeric columns")
    decimals = getattr(t, "decimals", None)
    if decimals is not None and decimals.shape != (len(codec.specs),):
        raise ModelFileError(f"{where}: {decimals.shape[0]} decimal places for "
                             f"{len(codec.specs)} columns")
    if any(i >= len(codec.specs) or not codec.specs[i].missing
           for levels in t.missingness for pattern in levels for i in pattern):
        raise ModelFileError(f"{where}: a missingness pattern names a column without gaps")
    try:
        t.params = fam.from_tensors({"weights": t.weights, "means": t.means,
                                     "precisions_cholesky": t.precisions_cholesky,
                                     "log_theta": t.log_theta})
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None


_TABLE = Table(
    cls=TableMixture,
    attrs=(
        Attr("codec", _codec, lambda c: _to_json(c.to_dict())),
        Attr("family_name", _family_name),
        Attr("n_components", _int(1)),
        Attr("missingness", _missingness),
        Attr("missing", _missing_option),
        Attr("candidates", _candidates),
        Attr("decimals", _decimals_or_none, optional=True),  # files before it: none
        Attr("heaps_", HeapMap.from_json, HeapMap.to_json, optional=True),  # none before
    ),
    tensors=(
        Tensor("mean", ("c",)),
        Tensor("scale", ("c",), _positive),
        Tensor("weights", ("K",), _probabilities),
        Tensor("means", ("K", "c")),
        Tensor("precisions_cholesky", _pc_shape),
        Tensor("log_theta", ("K", "L")),
    ),
    dims=lambda t: {"K": t.n_components, "c": len(t.codec.numeric),
                    "L": _mixed_family(t.family_name).n_levels},
    check_params=lambda t: None,
    finish=_finish_table,
    record_params=(),
    build=lambda t: TableMixture(t.codec, t.mean, t.scale, t.params, t.missingness, t.missing,
                                 t.candidates, decimals=getattr(t, "decimals", None),
                                 heaps=getattr(t, "heaps_", None)),
)

register("table", _TABLE)
