"""`cc`: the children's centre health indicators warehouse, from NHS extracts to newsletters.

Every command reads its paths and settings from the environment (README, "Settings") and
runs from the dbt project's folder (or set CC_DBT_PROJECT_DIR). `cc <command> --help` tells
a command's options.
"""

from __future__ import annotations

import importlib
import sys

# command: (module with main(argv), what it does)
COMMANDS = {
    "demo": ("cc_warehouse.demo", "write a synthetic demo city's extracts into the landing folder"),
    "load": ("cc_warehouse.ingest.load", "check, pseudonymise and load new extracts into the raw zone"),
    "transform": (
        "cc_warehouse.build.transform",
        "build the marts with dbt, audit them for disclosure, commit and publish",
    ),
    "publish": ("cc_warehouse.publish", "publish the live warehouse's marts again (DuckDB and Parquet)"),
    "reports": ("cc_warehouse.reports.write", "the data-quality report, the newsletters and the public CSV"),
    "newsletter": ("cc_warehouse.reports.newsletter", "the newsletters of one quarter"),
    "audit": (
        "cc_warehouse.build.disclosure_audit",
        "what an outsider could work out from the public marts",
    ),
    "bench": ("cc_warehouse.bench", "time the whole pipeline on a demo city, region or England"),
    "spark": ("cc_warehouse.build.spark", "the Spark target: export the raw zone, build with dbt-spark"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return f"usage: cc <command> [options]\n\n{__doc__.strip()}\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, *rest = argv
    if name not in COMMANDS:
        print(f"cc: no command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv[0] = f"cc {name}"  # the command's own --help and errors name it so
    if name == "demo":
        module.keep_freed_memory()  # a process of its own: the allocators' settings are ours
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
