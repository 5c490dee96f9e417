"""A penguins-like table built in the tests (no downloads): three categoricals, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd


def penguins(rng: np.random.Generator, n: int = 344) -> pd.DataFrame:
    """Species-dependent measurements, island and sex; gaps in sex (categorical)."""
    species = rng.choice(np.array(["Adelie", "Chinstrap", "Gentoo"]), n, p=[0.44, 0.2, 0.36])
    base = {"Adelie": (38.8, 18.3, 190.0, 3700.0), "Chinstrap": (48.8, 18.4, 196.0, 3733.0),
            "Gentoo": (47.5, 15.0, 217.0, 5076.0)}
    islands = {"Adelie": ["Biscoe", "Dream", "Torgersen"], "Chinstrap": ["Dream"],
               "Gentoo": ["Biscoe"]}
    mu = np.array([base[s] for s in species])
    noise = rng.normal(size=(n, 4)) * np.array([2.5, 1.1, 6.5, 450.0])
    X = mu + noise
    island = [rng.choice(islands[s]) for s in species]
    sex = rng.choice(np.array(["female", "male"]), n).astype(object)
    sex[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "species": pd.Categorical(species),
        "island": pd.Series(island, dtype="str"),
        "bill_length_mm": np.round(X[:, 0], 1),
        "bill_depth_mm": np.round(X[:, 1], 1),
        "flipper_length_mm": pd.array(np.round(X[:, 2]).astype(int), dtype="Int64"),
        "body_mass_g": np.round(X[:, 3]).astype(np.int64),
        "sex": pd.Series(sex, dtype=object),
        "year": rng.choice(np.array([2007, 2008, 2009]), n),
    })
