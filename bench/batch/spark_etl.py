"""Spark local-mode peer of `bench/batch`: billabong's ETL SQL over the same Parquet files.

Usage: spark_etl.py SPEC.json (written by `cargo run -p billabong-bench --bin batch`).

One SparkSession `local[*]` (its start-up is reported, not timed), then one
warm-up run and `runs` timed runs of: register the files as `rsvp_delta` and
`race_delta` (the latter cached), `rsvp_flat` and `race_grid` cached (as
`batch/src/run.rs` caches them), every target's extract fetched to Arrow
(`DataFrame.toArrow()`). Caches are dropped between runs. Spark settings are
the defaults (adaptive query execution on) apart from the UI being off.

The SQL texts need the rewrites listed in REWRITES (Spark SQL dialect);
everything else (`struct['field']`, window functions, FULL OUTER JOIN, CTEs,
subqueries without alias) runs as written. Prints one JSON line to stdout.
"""
import json
import statistics
import sys
import time

REWRITES = [
    ('"group"', "`group`", "double quotes are string literals in Spark SQL; identifiers take backticks"),
    ("unnest(", "explode(", "Spark's generator for arrays is explode"),
]


def sql(text):
    for old, new, _why in REWRITES:
        text = text.replace(old, new)
    return text


def main():
    spec = json.load(open(sys.argv[1]))
    started = time.perf_counter()
    from pyspark.sql import SparkSession
    import pyspark

    spark = (
        SparkSession.builder.master("local[*]")
        .appName("billabong-bench-batch")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started

    def run():
        spark.catalog.clearCache()
        spark.read.parquet(*spec["rsvp_files"]).createOrReplaceTempView("rsvp_delta")
        flat = spark.sql(sql(spec["flatten"])).cache()
        flat.count()
        flat.createOrReplaceTempView(spec["flat"])
        race = spark.read.parquet(*spec["race_files"]).cache()
        race.count()
        race.createOrReplaceTempView("race_delta")
        grid = spark.sql(sql(spec["grid"])).cache()
        grid.count()
        grid.createOrReplaceTempView("race_grid")
        return {t["table"]: spark.sql(sql(t["extract"])).toArrow() for t in spec["targets"]}

    times = []
    results = None
    for i in range(spec["runs"] + 1):
        t0 = time.perf_counter()
        results = run()
        took = time.perf_counter() - t0
        print(f"spark extract run {i}{' (warm-up)' if i == 0 else ''}: {took:.3f} s", file=sys.stderr)
        if i > 0:
            times.append(took)
    cores = spark.sparkContext.defaultParallelism
    spark.stop()
    print(json.dumps({
        "version": f"Spark {pyspark.__version__} local[*] ({cores} cores), Java 17",
        "rows": {t: r.num_rows for t, r in results.items()},
        "extract": {"runs_s": times, "median_s": statistics.median(times),
                    "note": f"session start-up {startup:.1f} s not included"},
        "load": None,
        "rewrites": [f"{a!r} → {b!r}: {why}" for a, b, why in REWRITES],
    }))


if __name__ == "__main__":
    main()
