"""pytest-aimock: run aimock for a test session and give each test its own test id.

See README.md. The plugin itself is ``pytest_aimock.plugin`` (loaded through the
``pytest11`` entry point); ``Aimock`` is what the ``aimock`` fixture returns.
"""

from .client import FAKE_KEY, TEST_PREFIX, Aimock, sanitize_test_id
from .server import AimockError, AimockServer, find_binary

__all__ = ["Aimock", "AimockError", "AimockServer", "FAKE_KEY", "TEST_PREFIX", "find_binary", "sanitize_test_id"]
