#!/usr/bin/env bash
# The Python peers of `bench/batch` (DuckDB, Spark local, psycopg COPY,
# scikit-learn) in a virtualenv under /var/tmp, so nothing is installed into
# the system Python. Spark also needs a Java 17 runtime on the PATH.
#
#   bench/batch/setup.sh            # creates or updates the venv
#   BENCH_VENV=/path bench/batch/setup.sh
#
# Prints the venv's python, which `cargo run -p billabong-bench --bin batch`
# uses by default (--python).
set -euo pipefail
venv="${BENCH_VENV:-/var/tmp/billabong-bench-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet \
    'duckdb>=1.1' 'pyarrow>=17' 'psycopg[binary]>=3.2' \
    'numpy>=1.26' 'scikit-learn>=1.5' 'pyspark>=3.5'
"$venv/bin/python" - <<'PY'
import duckdb, pyarrow, psycopg, sklearn, numpy
try:
    import pyspark
    spark = pyspark.__version__
except ImportError:
    spark = "not installed"
print(f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, psycopg {psycopg.__version__}, "
      f"scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, pyspark {spark}")
PY
echo "$venv/bin/python"
