"""The former name of sitegen.runtime, kept only for tests/e2e/test_delivery.py, which imports
it (that file belongs to the page's tests); delete this once it imports sitegen.runtime."""

from sitegen.runtime import CDN_BASE, CORE_FILES  # noqa: F401 - what tests/e2e uses
