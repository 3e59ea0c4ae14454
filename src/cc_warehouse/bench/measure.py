"""The bench's physical references, each run as a process of its own: a hand-written query
(bench/floor.sql), one scan of the raw zone, and the load floor (DuckDB alone reading,
pseudonymising and writing every extract)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from cc_warehouse import config


def run_query(sql_file: Path, warehouse: Path) -> int:
    """The floor's process: the query's rows written to a table, as dbt writes its models."""

    *setup, query = [part for part in sql_file.read_text(encoding="utf-8").split(";\n") if part.strip()]
    con = duckdb.connect(str(warehouse), read_only=True, config=config.duckdb_config())
    try:
        started = time.perf_counter()
        for statement in setup:
            con.execute(statement)
        con.execute(f"create temp table floor_values as\n{query}")
        rows = con.execute("select count(*) from floor_values").fetchone()[0]
        print(f"rows: {rows}\nquery seconds: {time.perf_counter() - started:.3f}")
    finally:
        con.close()
    return 0


def scan_raw(warehouse: Path) -> int:
    """Read every column of every raw table once: the least any build has to pay."""

    con = duckdb.connect(str(warehouse), read_only=True, config=config.duckdb_config())
    try:
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'raw' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        started = time.perf_counter()
        for table in tables:
            con.execute(f"select count(*), max(columns(*)) from raw.{table}").fetchall()
        print(f"tables: {len(tables)}\nquery seconds: {time.perf_counter() - started:.3f}")
    finally:
        con.close()
    return 0


def load_floor(landing: Path, scratch: Path) -> int:
    """What any loader of these extracts must do at least, done by DuckDB alone: read every
    CSV of the landing folder, replace each NHS number by its HMAC-SHA256 (as the loader
    does, with the demo key) and write every row, as text, to a table. Nothing is checked,
    typed or quarantined (rows DuckDB cannot parse are skipped), and the files whose columns
    have the same names are read by one statement, so that DuckDB parallelises over them.

    Before the clock starts, each file's header is read here, and a file that is not UTF-8
    (the contract allows Windows-1252, which DuckDB cannot read) is converted to UTF-8 in
    `scratch`: the floor is not charged for that.
    """
    import csv

    from cc_warehouse.ingest.contract import FEEDS
    from cc_warehouse.ingest.pseudo import hmac_sql, make_key

    scratch.mkdir(parents=True, exist_ok=True)
    nhs_columns = {column.name for feed in FEEDS.values() for column in feed.columns if column.kind == "nhs"}
    groups: dict[tuple[str, ...], list[str]] = {}
    for path in sorted(landing.glob("*/*.csv")):
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("cp1252").encode("utf-8")
            path = scratch / path.name  # named after its feed, so unique
            path.write_bytes(data)
        header = data.split(b"\n", 1)[0].decode("utf-8").removeprefix("\ufeff")
        names = tuple(name.strip().lower() for name in next(csv.reader([header])))
        groups.setdefault(names, []).append(str(path))
    params = make_key(config.DEMO_PSEUDO_KEY).params()
    con = duckdb.connect(str(scratch / "load_floor.duckdb"), config=config.duckdb_config())
    try:
        rows = 0
        started = time.perf_counter()
        for number, (names, paths) in enumerate(groups.items()):
            hashed = [f"{hmac_sql(name)} as {name}" for name in names if name in nhs_columns]
            replace = f" replace ({', '.join(hashed)})" if hashed else ""
            con.execute(
                f"""create table files_{number} as select *{replace}
                from read_csv($paths, header = true, all_varchar = true, names = $names,
                              ignore_errors = true)""",
                {"paths": paths, "names": list(names), **(params if hashed else {})},
            )
            rows += con.execute(f"select count(*) from files_{number}").fetchone()[0]
        print(f"files: {sum(map(len, groups.values()))}\nrows: {rows}")
        print(f"query seconds: {time.perf_counter() - started:.3f}")
    finally:
        con.close()
    return 0
