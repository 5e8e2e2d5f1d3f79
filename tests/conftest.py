"""The suite's fixtures live in plugin modules under tests/fixtures/, listed here."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.app",
    "tests.fixtures.server",
    "tests.fixtures.listener",
]
