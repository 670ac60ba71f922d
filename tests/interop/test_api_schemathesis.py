"""Schemathesis over the Engine API v1.43 spec, limited to the routes ``dockyard serve``
implements: no generated request may get a 5xx, and the server may log no traceback.

CI runs a bounded subset (a fixed seed, few examples per operation). The full run:
``DOCKYARD_SCHEMATHESIS_FULL=1`` (100 examples per operation, a random seed; set
``DOCKYARD_SCHEMATHESIS_EXAMPLES`` for another count), or
``python -m tests.interop._schemathesis_support [N]`` outside pytest.

The server runs in a network namespace of its own and every request passes the
safety hooks in ``schemathesis_hooks``; see ``_schemathesis_support``.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import Dockyard, needs_root
from tests.interop._schemathesis_support import isolated_server, run_schemathesis, spec_path

FULL = os.environ.get("DOCKYARD_SCHEMATHESIS_FULL") == "1"

pytestmark = [
    needs_root,
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(not spec_path().exists(), reason="the Engine API spec is not available"),
    pytest.mark.skipif(
        not shutil.which("unshare") or not shutil.which("nsenter"),
        reason="needs util-linux unshare and nsenter",
    ),
]


@pytest.mark.timeout(7200 if FULL else 600)
def test_no_generated_request_gets_a_server_error(dy: Dockyard, busybox: str) -> None:
    examples = int(os.environ.get("DOCKYARD_SCHEMATHESIS_EXAMPLES", "100" if FULL else "5"))
    with isolated_server(dy.root, dy.env) as server:
        result = run_schemathesis(
            server,
            max_examples=examples,
            phases="examples,coverage,fuzzing",
            seed=None if FULL else 7,
            # CI: one worker, so a fixed seed is a fixed sequence; the full run uses two,
            # racing requests on the same containers as clients do
            workers=2 if FULL else 1,
        )
    print(result.output)
    assert dy("ps", "-aq").out == ""  # the run's containers are gone (the netns with them)
    assert "Traceback" not in result.server_log, result.server_log[-5000:]
    assert result.code == 0, result.output[-20000:]
