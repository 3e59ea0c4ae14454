"""Great Expectations: an independent check of what the loader accepted, with Data Docs.

Great Expectations 1.x cannot read DuckDB directly, so each file's accepted rows are read back
into a pandas frame and validated against the feed's suite. The suites are derived from the
same contract the loader applies: if the loader ever let an impossible value through, the
Data Docs (under the reports folder) would show it, file by file.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import duckdb

from cc_warehouse.ingest.contract import FEEDS, Column

PSEUDONYM = r"^[0-9a-f]{64}$"


def _expectations(column: Column) -> list:
    import great_expectations as gx

    name = column.output
    found = []
    if column.required:
        found.append(gx.expectations.ExpectColumnValuesToNotBeNull(column=name))
    if column.kind == "code":
        kept = [code for code in column.codes if code not in column.unknown]
        found.append(gx.expectations.ExpectColumnValuesToBeInSet(column=name, value_set=kept))
    if column.kind in ("int", "decimal"):
        found.append(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column=name, min_value=column.low, max_value=column.high
            )
        )
    if column.kind == "nhs":
        found.append(gx.expectations.ExpectColumnValuesToMatchRegex(column=name, regex=PSEUDONYM))
    if column.kind == "academic_year":
        found.append(gx.expectations.ExpectColumnValuesToMatchRegex(column=name, regex=r"^\d{4}/\d{2}$"))
    return found


def _context(state_dir: Path, docs_dir: Path):
    import great_expectations as gx

    context = gx.get_context(mode="file", project_root_dir=str(state_dir))
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(docs_dir.resolve()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    if "reports" in context.get_site_names():
        context.update_data_docs_site("reports", site)
    else:
        context.add_data_docs_site(site_name="reports", site_config=site)
    return context


def _definition(context, feed_name: str):
    import great_expectations as gx

    feed = FEEDS[feed_name]
    source = context.data_sources.add_or_update_pandas("warehouse_raw")
    names = [asset.name for asset in source.assets]
    asset = source.get_asset(feed_name) if feed_name in names else source.add_dataframe_asset(feed_name)
    batches = [batch.name for batch in asset.batch_definitions]
    batch = (
        asset.get_batch_definition("extract")
        if "extract" in batches
        else asset.add_batch_definition_whole_dataframe("extract")
    )
    suite = gx.ExpectationSuite(name=f"{feed_name}_contract")
    for column in feed.columns:
        for expectation in _expectations(column):
            suite.add_expectation(expectation)
    suite = context.suites.add_or_update(suite)
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{feed_name}_extract", data=batch, suite=suite)
    )


def validate_run(warehouse: Path, run_id: str, docs_dir: Path) -> dict[str, bool]:
    """Validate every file the run loaded, and every file an earlier run left unvalidated (a
    load stopped after its commit, or one run with --no-validate); record the outcome in the
    load log; build docs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bar per expectation
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    con = duckdb.connect(str(warehouse))
    try:
        files = con.execute(
            """select file_name, feed from raw.load_log
            where run_id = ? or ge_success is null order by file_name""",
            [run_id],
        ).fetchall()
        if not files:
            return {}
        import great_expectations as gx  # slow to import: only when there is work

        docs_dir.mkdir(parents=True, exist_ok=True)
        context = _context(warehouse.parent / "great_expectations", docs_dir)
        definitions = {}
        outcome: dict[str, bool] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for file_name, feed_name in files:
                if feed_name not in definitions:
                    definitions[feed_name] = _definition(context, feed_name)
                columns = ", ".join(c.output for c in FEEDS[feed_name].columns)
                frame = con.execute(
                    f"select {columns} from raw.{feed_name} where file_name = ?", [file_name]
                ).df()
                checkpoint = context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=f"{feed_name}_load",
                        validation_definitions=[definitions[feed_name]],
                        result_format="SUMMARY",
                    )
                )
                result = checkpoint.run(
                    batch_parameters={"dataframe": frame},
                    run_id=gx.RunIdentifier(run_name=file_name.replace("/", "__")),
                )
                outcome[file_name] = bool(result.success)
            context.build_data_docs(site_names=["reports"])
        con.execute("begin transaction")
        for file_name, success in outcome.items():
            con.execute(
                "update raw.load_log set ge_success = ? where file_name = ?",
                [success, file_name],
            )
        con.execute("commit")
        return outcome
    finally:
        con.close()
