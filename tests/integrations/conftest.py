from tests.integrations.support import connections_made  # noqa: F401 - a fixture
