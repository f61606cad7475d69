"""The e2e lane: each test here starts a whole stack (or several). ``nox -s tests`` runs this lane after the others,
in one process, one test after another: two whole stacks at once on a 2-core machine slow each other down, two
stacks of one stage (``local``) share its folders, and the browser journey's steps build on each other in order.

Modules that only *use* a stack (the browser journey, the traces) share one (``shared_stack``): a start costs
about 30 CPU-seconds. Modules that test starting and stopping (``test_up*``, the chaos run) start their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stack_support


@pytest.fixture(scope="session")
def shared_stack() -> Iterator[stack_support.Stack]:
    """A whole stack as ``nox -s up`` runs it (tracing to X-Ray under the sampling rules), for the lane's session."""
    with stack_support.running("e2e", {"SHOP_TRACING": "xray", "SHOP_TRACE_SAMPLING": "rules"}) as stack:
        yield stack
