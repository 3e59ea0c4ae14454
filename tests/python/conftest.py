"""What the Python tests share: one demo city, generated and built once a session."""

from __future__ import annotations

import pytest

from reliability import City, build_city


@pytest.fixture(scope="session")
def session_city(tmp_path_factory: pytest.TempPathFactory) -> City:
    """The demo city as `make build` makes it, built once a session. A test that only reads
    uses `session_city.built`; a test that changes state works on `session_city.restore()`,
    a copy of it, and leaves the built city as it was."""
    return build_city(tmp_path_factory.mktemp("session_city"))
