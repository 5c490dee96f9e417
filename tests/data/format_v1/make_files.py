"""Writes the model files of this folder; they were written by the code of commit 5ac9704
(before a fitted synthesizer held a model object), so that tests/test_persistence.py checks
that files from before still load and sample the same rows:

    git archive 5ac9704 | tar -x -C /tmp/old
    cd /tmp/old && PYTHONPATH=src python <this file> <this folder>
"""

import sys
import warnings

import numpy as np

from mixsynth import Synthesizer
from mixsynth.persistence import save


def main(out: str) -> None:
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(11)
    X = np.c_[rng.normal(size=(120, 2)) @ [[1, 0.6], [0, 1]], rng.integers(0, 6, 120)]
    y = np.where(X[:, 0] > 0, "hi", "lo")
    constant = np.tile([2.0, -1.0, 4.0], (30, 1))
    models = {
        "plain": Synthesizer(n_components=[1, 2], cv=3, reg_covar=1e-3, random_state=0).fit(X),
        "constant": Synthesizer(random_state=0).fit(constant),
        "classes": Synthesizer(n_components=[1, 2], criterion="bic", reg_covar=1e-3,
                               random_state=0).fit(X, y),
    }
    expected = {}
    for name, m in models.items():
        save(m, f"{out}/{name}.mixsynth")
        rows = m.sample(15, random_state=3)
        if isinstance(rows, tuple):
            expected[f"{name}_X"], expected[f"{name}_y"] = rows
        else:
            expected[f"{name}_X"] = rows
        expected[f"{name}_score"] = m.score_samples(constant[:3] if name == "constant" else X[:10])
    np.savez(f"{out}/expected.npz", X=X[:10], constant=constant[:3], **expected)


if __name__ == "__main__":
    main(sys.argv[1])
