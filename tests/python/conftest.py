"""What the Python tests share: one demo city, generated and built once a session."""

from __future__ import annotations

import pytest

from reliability import City, build_city

# The slowest files first, so that with two workers (make test) the others run beside them.
SLOWEST_FIRST = ("test_spark.py", "test_reliability_faults.py", "test_bench.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the order within each file is kept


@pytest.fixture(scope="session")
def session_city(tmp_path_factory: pytest.TempPathFactory) -> City:
    """The demo city as `make build` makes it, built once a session. A test that only reads
    uses `session_city.built`; a test that changes state works on `session_city.restore()`,
    a copy of it, and leaves the built city as it was."""
    return build_city(tmp_path_factory.mktemp("session_city"))
