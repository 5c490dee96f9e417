"""TableCodec: kinds inferred from dtypes, encode / decode round trips, bad columns."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mixsynth.tables import ColumnKind, HighCardinalityWarning, TableCodec, is_table


def every_dtype() -> pd.DataFrame:
    """One column of each dtype the codec restores, with gaps where the dtype allows them."""
    df = pd.DataFrame({
        "str": pd.Series(["a", "b", None, "a"], dtype="str"),
        "object": pd.Series(["x", "y", np.nan, "y"], dtype=object),
        "category": pd.Categorical(["u", "v", "u", "u"], categories=["v", "w", "u"]),
        "ordered": pd.Categorical(["lo", "hi", "mid", "lo"], categories=["lo", "mid", "hi"],
                                  ordered=True),
        "bool": [True, False, True, True],
        "boolean": pd.array([True, None, False, True], dtype="boolean"),
        "Int64": pd.array([1, None, 3, 4], dtype="Int64"),
        "Float64": pd.array([1.5, None, 3.0, 0.25], dtype="Float64"),
        "string_arrow": pd.array(["a", "b", None, "b"], dtype="string[pyarrow]"),
        "string_python": pd.array(["a", "b", None, "b"], dtype="string[python]"),
        "int_arrow": pd.array([1, 2, None, 5], dtype="int64[pyarrow]"),
        "datetime": pd.to_datetime(["2020-01-01", "2020-01-02", None, "2021-06-30"]),
        "datetime_tz": pd.to_datetime(["2020-01-01 10:00", "2020-01-02 00:00", None,
                                       "2020-03-01 23:00"]).tz_localize("Europe/Paris"),
        "timedelta": pd.to_timedelta([1, 2, None, 30], unit="h"),
        "date_text": ["2020-01-01", "2021-03-04", None, "2021-03-05"],
        "float32": np.array([1, 2.5, 3, 4], dtype="float32"),
        "int8": np.array([1, 2, 3, -4], dtype="int8"),
    })
    df["dictionary"] = pd.array(
        pa.array(["p", "q", None, "p"]).dictionary_encode(),
        dtype=pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string())),
    )
    return df


EXPECTED_KINDS = {
    "str": "categorical", "object": "categorical", "category": "categorical",
    "ordered": "ordered", "bool": "boolean", "boolean": "boolean", "Int64": "integer",
    "Float64": "continuous", "string_arrow": "categorical", "string_python": "categorical",
    "int_arrow": "integer", "datetime": "datetime", "datetime_tz": "datetime",
    "timedelta": "timedelta", "date_text": "datetime", "float32": "continuous",
    "int8": "integer", "dictionary": "categorical",
}


def test_kinds_follow_the_documented_rule() -> None:
    codec = TableCodec.fit(every_dtype())
    assert {s.name: s.kind for s in codec.specs} == EXPECTED_KINDS


def test_round_trip_restores_every_dtype_and_value() -> None:
    df = every_dtype()
    codec = TableCodec.fit(df)
    X, codes = codec.encode(df)
    assert X.shape == (4, len(codec.numeric)) and codes.shape == (4, len(codec.discrete))
    assert np.isnan(X).sum() == 7 and (codes == -1).sum() == 6
    pd.testing.assert_frame_equal(codec.decode(X, codes), df)
    back = TableCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    pd.testing.assert_frame_equal(back.decode(X, codes), df)


def test_observed_categories_only_in_category_order() -> None:
    codec = TableCodec.fit(every_dtype())
    assert codec.spec("category").categories == ["v", "u"]  # "w" never occurs
    assert codec.spec("ordered").categories == ["lo", "mid", "hi"]
    out = codec.decode(np.zeros((2, len(codec.numeric))),
                       np.ones((2, len(codec.discrete)), dtype=np.intp))
    assert list(out["category"].cat.categories) == ["v", "w", "u"]
    assert set(out["category"]) == {"u"}


def test_dates_keep_their_resolution() -> None:
    codec = TableCodec.fit(every_dtype())
    assert codec.spec("datetime").step == 86_400 * 10**6  # days, in microseconds
    assert codec.spec("datetime_tz").step == 3_600 * 10**6  # hours
    X = np.zeros((1, len(codec.numeric)))
    X[0, codec.numeric.index(11)] = 18262.4  # 2020-01-01 + 0.4 day: rounded to the day
    out = codec.decode(X, np.zeros((1, len(codec.discrete)), dtype=np.intp))
    assert out["datetime"].iloc[0] == pd.Timestamp("2020-01-01")


def test_is_table() -> None:
    assert not is_table(np.zeros((3, 2)))
    assert not is_table(pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2]}))
    assert is_table(pd.DataFrame({"a": [1.0, np.nan]}))
    assert is_table(pd.DataFrame({"a": ["x", "y"]}))


def test_overrides() -> None:
    df = pd.DataFrame({"year": [2007, 2008, 2007], "code": ["1.5", "2", "3"]})
    codec = TableCodec.fit(df, {"year": "categorical", "code": "continuous"})
    assert codec.spec("year").kind == "categorical" and codec.spec("year").categories == [
        2007, 2008]
    X, codes = codec.encode(df)
    np.testing.assert_array_equal(X[:, 0], [1.5, 2.0, 3.0])
    out = codec.decode(X, codes)
    assert out["year"].dtype == np.int64 and list(out["year"]) == [2007, 2008, 2007]
    with pytest.raises(ValueError, match="Unknown kind 'colour' for column 'year'"):
        TableCodec.fit(df, {"year": "colour"})
    with pytest.raises(ValueError, match="'nope', which is not a column"):
        TableCodec.fit(df, {"nope": "categorical"})
    assert ColumnKind.parse("ordered", "x") is ColumnKind.ORDERED


def test_one_category_is_fine() -> None:
    df = pd.DataFrame({"c": ["only"] * 5, "x": np.arange(5.0)})
    codec = TableCodec.fit(df)
    X, codes = codec.encode(df)
    assert codec.levels == (1,)
    pd.testing.assert_frame_equal(codec.decode(X, codes), df)


@pytest.mark.parametrize(("column", "message"), [
    (pd.Series([None, None, None], dtype=object), r"Column 'bad' has no values"),
    (pd.Series(["a", 1, "b"], dtype=object),
     r"Column 'bad' mixes value types \(number, text\)"),
    (pd.Series(["2020-01-01", "2020-13-45", "2020-01-03"]),
     r"Column 'bad': '2020-13-45' is not a date"),
])
def test_bad_columns_are_named(column: pd.Series, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TableCodec.fit(pd.DataFrame({"ok": [1.0, 2.0, 3.0], "bad": column}))


def test_thousands_of_levels_are_refused_unless_forced() -> None:
    df = pd.DataFrame({"id": [f"user{i}" for i in range(1001)], "x": np.arange(1001.0)})
    with pytest.raises(ValueError, match=r"Column 'id' has 1001 distinct values.*column_kinds"):
        TableCodec.fit(df)
    with pytest.warns(HighCardinalityWarning, match="'id' has 1001 levels"):
        codec = TableCodec.fit(df, {"id": "categorical"})
    assert codec.levels == (1001,)


def test_identifier_like_levels_are_modelled_with_a_warning() -> None:
    df = pd.DataFrame({"id": [f"user{i % 150}" for i in range(200)], "x": np.arange(200.0)})
    with pytest.warns(HighCardinalityWarning, match=r"Column 'id' has 150 distinct values in 200"):
        codec = TableCodec.fit(df)
    assert codec.levels == (150,)
    few = df.assign(id=[f"user{i % 50}" for i in range(200)])  # 50 levels: not identifier-like
    with warnings.catch_warnings():
        warnings.simplefilter("error", HighCardinalityWarning)
        assert TableCodec.fit(few).levels == (50,)


def test_unknown_category_names_the_allowed_values() -> None:
    df = pd.DataFrame({"c": ["a", "b"], "x": [1.0, 2.0]})
    codec = TableCodec.fit(df)
    allowed = r"Column 'c': 'z' is not one of its categories \['a', 'b'\]"
    with pytest.raises(ValueError, match=allowed):
        codec.encode(pd.DataFrame({"c": ["z"], "x": [1.0]}))
    assert codec.code_of("c", "b") == 1
