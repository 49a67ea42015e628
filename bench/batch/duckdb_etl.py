"""DuckDB peer of `bench/batch`: billabong's ETL SQL texts over the same Parquet files.

Usage: duckdb_etl.py SPEC.json (written by `cargo run -p billabong-bench --bin batch`).

The spec holds the committed Parquet files of both topics, the SQL texts of
`batch::etl` (FLATTEN, GRID, every target's extract) and, for the load,
fresh migrated PostgreSQL databases (one per run). Registration mirrors
`batch/src/run.rs`: `rsvp_delta` is a view over the files, `rsvp_flat`,
`race_delta` and `race_grid` are materialised (DataFusion's `cache()`).

Two measurements, each one warm-up run then `runs` timed runs, each run in a
fresh in-memory DuckDB connection:
- extract: register + every target query fetched to Arrow;
- load: the same, then per target a temporary staging table (the same DDL),
  binary COPY of the Arrow rows with psycopg, the same merge statements,
  one transaction (no views, no migrations: the databases come migrated).

Prints progress to stderr and one JSON line to stdout.
"""
import json
import statistics
import sys
import time

import duckdb

REWRITES = []  # the texts run unchanged; add (from, to, why) here if one must change


def sql(text):
    for old, new, _why in REWRITES:
        text = text.replace(old, new)
    return text


def register(con, spec):
    opts = "hive_partitioning = false"  # the lake's date=/hour= folders are not columns
    con.execute(
        f"CREATE VIEW rsvp_delta AS SELECT * FROM read_parquet({spec['rsvp_files']!r}, {opts})"
    )
    con.execute(f"CREATE TEMP TABLE {spec['flat']} AS {sql(spec['flatten'])}")
    con.execute(
        f"CREATE TEMP TABLE race_delta AS SELECT * FROM read_parquet({spec['race_files']!r}, {opts})"
    )
    con.execute(f"CREATE TEMP TABLE race_grid AS {sql(spec['grid'])}")


def extract(spec):
    con = duckdb.connect()
    register(con, spec)
    results = {}
    for target in spec["targets"]:
        results[target["table"]] = con.sql(sql(target["extract"])).to_arrow_table()
    con.close()
    return results


def load(spec, url):
    import psycopg

    con = duckdb.connect()
    register(con, spec)
    with psycopg.connect(url) as pg:  # one transaction, committed on exit
        with pg.cursor() as cur:
            for target in spec["targets"]:
                stage = f"stage_{target['table']}"
                cols = ", ".join(target["columns"])
                cur.execute(target["staging_ddl"])
                cur.execute(f"SELECT {cols} FROM {stage} LIMIT 0")
                oids = [d.type_code for d in cur.description]
                table = con.sql(sql(target["extract"])).to_arrow_table()
                with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(oids)
                    for batch in table.to_batches():
                        for row in zip(*(c.to_pylist() for c in batch.columns)):
                            copy.write_row(row)
            for target in spec["targets"]:
                cur.execute(target["merge_sql"])
    con.close()


def timed(runs, fn, args_per_run):
    times = []
    out = None
    for i in range(runs + 1):
        started = time.perf_counter()
        out = fn(*args_per_run(i))
        took = time.perf_counter() - started
        print(f"duckdb {fn.__name__} run {i}{' (warm-up)' if i == 0 else ''}: {took:.3f} s", file=sys.stderr)
        if i > 0:
            times.append(took)
    return times, out


def main():
    spec = json.load(open(sys.argv[1]))
    runs = spec["runs"]
    times, results = timed(runs, extract, lambda i: (spec,))
    threads = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]
    out = {
        "version": f"DuckDB {duckdb.__version__} (Python), {threads} threads",
        "rows": {t: r.num_rows for t, r in results.items()},
        "extract": {"runs_s": times, "median_s": statistics.median(times)},
        "load": None,
        "rewrites": [f"{a!r} → {b!r}: {why}" for a, b, why in REWRITES],
        "note": "read_parquet(files, hive_partitioning = false): the lake's date=/hour= folders are not columns",
    }
    dbs = spec.get("postgres") or []
    if len(dbs) > runs:
        import psycopg

        times, _ = timed(runs, load, lambda i: (spec, dbs[i]))
        out["load"] = {
            "runs_s": times,
            "median_s": statistics.median(times),
            "note": f"psycopg {psycopg.__version__} binary COPY, rows via Arrow to_pylist",
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
