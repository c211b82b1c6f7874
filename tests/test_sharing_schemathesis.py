"""Generated requests against the sharing interface's own OpenAPI description: never a server error.

Schemathesis reads GET /sharing/openapi.json from the app and generates requests for every
operation, both conforming to the description (positive) and violating it (negative: wrong
types, missing or extra parameters, out-of-range values), sent through the WSGI transport to the
real app on a real deployment (``tests.test_sharing_api.build_env``). Half of the cases carry
the valid AccountId and AccessToken of a system with usage, so that generation reaches past
authentication into the methods themselves. At least 2,000 cases in all; every answer must be
below 500, and every answer but a served file or the description itself must be the envelope
with a documented return code, and every call must be in the usage record.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode

from sharing.codes import Code
from tests.test_sharing_api import IP, build_env, count_records

pytestmark = pytest.mark.slow

MIN_CASES = 2_000
EXAMPLES = {GenerationMode.POSITIVE: 140, GenerationMode.NEGATIVE: 90}
CODES = {c.value for c in Code} - {Code.INTERNAL_ERROR.value}


@pytest.fixture(scope="module")
def sharing_env(tmp_path_factory):
    env = build_env(tmp_path_factory.mktemp("sharing-fuzz") / "data")
    yield env
    from sharing.api import flush_records

    assert flush_records(env.app)
    env.platform.close()


def _credentials(env) -> dict[str, str]:
    client = env.app.test_client()
    r = client.post("/sharing/Token", data={"AccountId": env.account}, environ_base={"REMOTE_ADDR": IP})
    return {"AccountId": env.account, "AccessToken": r.get_json()["data"]["dataList"]}


def test_generated_requests_never_get_a_server_error(sharing_env):
    env = sharing_env
    schema = schemathesis.openapi.from_wsgi("/sharing/openapi.json", env.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    creds = _credentials(env)
    recorded_before = count_records(env)
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    for op in operations:
        label = f"{op.method.upper()} {op.path}"
        has_input = bool(op.body) or bool(list(op.path_parameters))
        for mode, examples in EXAMPLES.items():
            if mode is GenerationMode.NEGATIVE and not has_input:
                continue

            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode), authed=st.booleans())
            def run(case, authed):
                if authed and isinstance(case.body, dict):
                    case.body.update(creds)
                response = case.call(environ_base={"REMOTE_ADDR": IP})
                sent[label] += 1
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(f"{label} {mode.value}: {response.status_code} for {case.body!r:.300}")
                    return
                kind = response.headers.get("content-type", [""])[0]
                if op.path == "/sharing/openapi.json" or (op.path.startswith("/sharing/file/")
                                                          and response.status_code == 200):
                    return
                assert kind.startswith("application/json"), (label, response.status_code, kind)
                body = json.loads(response.content)
                assert set(body) == {"head", "data"} and body["head"]["status"] in CODES, body
                assert (body["head"]["status"] == "0") == (response.status_code == 200), body

            run()

    total = sum(sent.values())
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_CASES, (total, dict(sent))
    assert statuses[200] > 0 and not any(s >= 500 for s in statuses), dict(statuses)
    assert count_records(env) - recorded_before == total  # every generated call is in the usage record
    print(f"\nschemathesis: {total} cases, statuses {dict(sorted(statuses.items()))}")
