"""Session-wide test set-up.

scikit-learn's conformance suite (tests/estimators/test_sklearn_checks.py) includes
``check_array_api_input``, which runs only when SciPy's array-API mode is switched on by the
environment variable SCIPY_ARRAY_API=1 (and array-api-compat is installed); otherwise the check
skips itself. The variable must be set before SciPy is first imported, hence here, at the start of
the session. For NumPy input (the only input chainrule's estimators take) it changes no result.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")
