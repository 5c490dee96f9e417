"""The one input validator's messages (issue 14, item 10): text in a numeric input names the
column, not numpy's "could not convert string to float"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mixsynth.validation import check_input, is_count, unreturnable_integers


def _penguins() -> pd.DataFrame:
    return pd.DataFrame({"bill_length_mm": [39.1, 39.5, 40.3, 36.7],
                         "species": ["Adelie", "Adelie", "Gentoo", "Chinstrap"],
                         "body_mass_g": [3750, 3800, 3250, 3450]})


def test_text_in_a_dataframe_names_the_column() -> None:
    with pytest.raises(ValueError) as info:
        check_input(_penguins())
    message = str(info.value)
    assert "could not convert" not in message
    assert "column 'species' (position 1) holds text ('Adelie')" in message
    assert "numbers only" in message and "--columns" in message


@pytest.mark.parametrize("X", [
    np.array([[1.0, 2.0, "x"], [3.0, 4.0, "y"]], dtype=object),
    [[1, 2, "x"], [3, 4, "y"]],
    np.array([["1", "2", "x"], ["3", "4", "y"]]),  # numeric texts are numbers, 'x' is not
])
def test_text_in_an_array_names_its_position(X: object) -> None:
    with pytest.raises(ValueError, match=r"^X: column 2 holds text \('x'\); mixsynth models "
                                         r"numbers only"):
        check_input(X)


def test_text_found_in_a_later_row() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["1.5", "2", "n/a"]})
    with pytest.raises(ValueError, match=r"column 'b' \(position 1\) holds text \('n/a'\)"):
        check_input(df, name="data")


def test_through_the_estimators() -> None:
    from mixsynth import GaussianMixture, Synthesizer

    # the Synthesizer models text columns as categories (tests/tables); the mixture does not
    with pytest.raises(ValueError, match=r"column 'species' \(position 1\) holds text"):
        GaussianMixture().fit(_penguins())
    with pytest.raises(ValueError, match=r"Column 'nope' has no values"):
        Synthesizer().fit(_penguins().assign(nope=None))


def test_other_conversion_errors_are_left_alone() -> None:
    with pytest.raises(ValueError, match="Complex data not supported"):
        check_input(np.array([[1 + 2j, 3.0]]))


def test_a_dataframe_without_columns_gets_scikit_learns_message() -> None:
    """numpy's "at least one array or dtype is required" came through for a DataFrame."""
    from mixsynth import GaussianMixture, Synthesizer

    for estimator in (GaussianMixture(), Synthesizer()):
        with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\) \(shape=\(5, 0\)\)"):
            estimator.fit(pd.DataFrame(index=range(5)))


@pytest.mark.parametrize(("value", "expected"), [
    (3, True), (np.int32(3), True), (np.uint8(0), True), (-1, True),
    (True, False), (np.bool_(True), False), (3.0, False), ("3", False), (None, False),
])
def test_a_count_is_an_integer_and_never_a_bool(value: object, expected: bool) -> None:
    assert is_count(value) is expected


@pytest.mark.parametrize(("dtype", "values", "bad"), [
    # int64: 2**63 - 1 rounds to 2.0**63 in float64 and would wrap round to -2**63
    ("int64", [0.0, float(2**63 - 1), -(2.0**63), np.nan, np.inf], [1]),
    ("int8", [127.0, 128.0, -128.0, -129.0], [1, 3]),
    ("uint8", [0.0, 255.0, 256.0, -1.0], [2, 3]),
    ("uint64", [float(2**64 - 1), 2.0**63], [0]),
    ("float64", [1e300, -np.inf], []),
])
def test_unreturnable_integers_are_those_float64_cannot_give_back(
    dtype: str, values: list[float], bad: list[int]
) -> None:
    found = unreturnable_integers(np.array(values), np.dtype(dtype))
    assert found.tolist() == bad
    # every value not reported goes back to the column's dtype as the same number
    keep = np.setdiff1d(np.flatnonzero(np.isfinite(values)), found)
    if np.dtype(dtype).kind in "iu":
        back = np.array(values)[keep].astype(dtype)
        assert np.array_equal(back.astype(np.float64), np.array(values)[keep])
