"""Session-wide test set-up.

scikit-learn's conformance suite (tests/estimators/test_sklearn_checks.py) includes
``check_array_api_input``, which runs only when SciPy's array-API mode is switched on by the
environment variable SCIPY_ARRAY_API=1 (and array-api-compat is installed); otherwise the check
skips itself. The variable must be set before SciPy is first imported, hence here, at the start of
the session. For NumPy input (the only input chainrule's estimators take) it changes no result.

Hypothesis runs under one profile here (see below), so that property tests are deterministic.
"""

import os

import pytest
from hypothesis import settings

os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Property tests are the same on every machine and every run: a fixed seed and no example database
# (a database from earlier runs would make a local run try other examples than CI's).
# `python scripts/fuzz_files.py` explores further by hand.
settings.register_profile("chainrule", derandomize=True, database=None, deadline=None)
settings.load_profile("chainrule")


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any test was skipped: a skipped test is not a pass.

    Every dependency a test needs is in the ``test`` extra (and Graphviz's ``dot`` is installed by
    .ci/run), so a skip means something is missing from the environment, which CI must not hide.
    """
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.ensure_newline()
        reporter.write_line(
            f"FAILED: {len(skipped)} test(s) skipped; a skipped test is not a pass "
            "(install the test extra: pip install -e '.[test]')",
            red=True,
        )
        session.exitstatus = 1


@pytest.fixture(scope="session")
def mnist1d_data(tmp_path_factory, request):
    """The paper's MNIST-1D split (4000 + 1000), generated once (a few seconds) and then read from
    the cache: $CHAINRULE_CACHE when set, else pytest's cache folder, else a temporary folder
    (never the home folder)."""
    from chainrule.data import load_mnist1d

    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    folder = os.environ.get("CHAINRULE_CACHE") or (
        cache.mkdir("chainrule-mnist1d") if cache is not None else tmp_path_factory.mktemp("chainrule-mnist1d")
    )
    return load_mnist1d(cache_dir=folder)
