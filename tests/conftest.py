"""Shared fixtures. Service fixtures (emulator, broker) live in tests/fixtures/ and are loaded here."""

pytest_plugins = ["tests.fixtures.emulator", "tests.fixtures.broker", "tests.fixtures.streaming"]
