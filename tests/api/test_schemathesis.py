"""Fuzzing against the app's own OpenAPI schema (schemathesis), bounded for `make test`.

Every GET operation and the POSTs that write nothing (batch reverse geocoding) get a
few generated requests each, valid and invalid: none may answer 5xx, and every
documented answer must match its declared schema. Writes are left out so the shared
test database keeps the sample data other tests count on.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.db

SAFE_POSTS = ("/v1/geocode/reverse/batch",)
# Every router is fuzzed (GET /open311/v2/requests.json too, since its page of up to
# 1,000 requests is built in five queries instead of five per request).
NOT_YET: tuple[str, ...] = ()
SLOW: tuple[str, ...] = ()


SETTINGS = settings(
    max_examples=4,
    deadline=None,  # speed is measured in benchmarks/, not asserted: a slow first call (cold
    # caches, a busy CI machine) must not read as a flaky failure
    derandomize=True,  # the same examples every run: a failure is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _operations(client):
    # The `client` fixture ran the lifespan: the app holds its engine and index.
    # (schemathesis' lazy pytest loader does not work with pytest 9, so the
    # operations are driven here, one Hypothesis run each.)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    return [
        op
        for op in ops
        if (op.method.upper() == "GET" or op.path in SAFE_POSTS)
        and not op.path.startswith(NOT_YET)
        and op.path not in SLOW
    ]


def test_api_answers_within_its_schema(client):
    ops = _operations(client)
    assert len(ops) >= 10  # the schema really lists the API
    failures = []
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @SETTINGS
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            try:
                run()
            except Unsatisfiable:
                pass  # no parameters to make invalid: nothing negative to send
            except Exception as exc:  # collect all, report together
                failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
