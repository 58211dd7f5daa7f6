"""The CDK's standard acceptance tests, driven by acceptance-test-config.yml."""

from airbyte_cdk.test.standard_tests import DeclarativeSourceTestSuite

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestConfigCatSource(DeclarativeSourceTestSuite):
    """Spec, check (good and bad credentials), discover, read and full refresh of every stream."""
