"""Hypothesis fuzzing of the emulator's API with values at and past every documented limit.

The limits come from botocore's models (lengths, patterns, int32 members) and the Feature Store's own
rules (Integral is int64, event times up to year 9999, 100 identifiers per BatchGetRecord). The
property: no status is 5xx, and a PutRecord answered 2xx is read back with the values it sent.
Examples per test from FRAUDKIT_FUZZ_EXAMPLES (default 100).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import botocore.session
import pytest
from fraudkit.config import Settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.raw import RawClient, create_group, deployed_endpoint

pytestmark = pytest.mark.integration
GROUP, ENDPOINT = "fuzzed-group", "fuzzed-endpoint"
FUZZ = settings(
    max_examples=int(os.environ.get("FRAUDKIT_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RUNTIME_MODEL = botocore.session.get_session().get_service_model("sagemaker-featurestore-runtime")
VALUE_MAX = RUNTIME_MODEL.shape_for("ValueAsString").metadata["max"]  # 358400
NAME_MAX = RUNTIME_MODEL.shape_for("FeatureGroupNameOrArn").metadata["max"]
ID_MAX = 2**63 - 1
END_OF_TIME = 253402300800


def around(limit: int) -> st.SearchStrategy[int]:
    """Lengths or numbers at a limit and on either side of it."""
    return st.sampled_from([limit - 1, limit, limit + 1])


def sized_text(lengths: st.SearchStrategy[int], alphabet: str = "ab0_-.") -> st.SearchStrategy[str]:
    """Strings of the given lengths built by repetition (hypothesis cannot draw 358 400 characters fast)."""
    return st.builds(
        lambda n, seed: (seed * (n // max(len(seed), 1) + 1))[:n],
        lengths,
        st.text(alphabet=alphabet, min_size=1, max_size=4),
    )


INTEGRALS = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from([str(ID_MAX), str(ID_MAX + 1), str(-ID_MAX - 1), str(-ID_MAX - 2)]),
    around(19).map(lambda n: "9" * n),
    around(4300).map(lambda n: "1" * n),
    around(4300).map(lambda n: "0" * n + "1"),
    st.text(max_size=30),
)
FRACTIONALS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e308", "1e309", "-1e400", ".5", "5.", "nan"]),
    around(400).map(lambda n: "9" * n),
    st.text(max_size=30),
)
EVENT_TIMES = st.one_of(
    st.floats(min_value=-1e12, max_value=1e12).map(repr),
    st.sampled_from([str(END_OF_TIME - 1), str(END_OF_TIME), str(END_OF_TIME + 1), "0", "-1"]),
    st.sampled_from(
        ["2024-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "10000-01-01T00:00:00Z", "2024-13-01T00:00:00Z"]
    ),
)
TTLS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "Unit": st.sampled_from(["Seconds", "Minutes", "Hours", "Days", "Weeks", "Years"]),
            "Value": st.one_of(
                around(2**31 - 1), around(1), st.integers(min_value=-(2**40), max_value=2**40)
            ),
        }
    ),
)
RECORD_IDS = st.one_of(
    sized_text(around(VALUE_MAX)), st.text(min_size=0, max_size=20), sized_text(st.just(1))
)


@pytest.fixture(scope="module")
def fuzzed(emulator: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawClient]:
    create_group(emulator, GROUP)
    deployed_endpoint(emulator, tmp_path_factory.mktemp("fuzz-model"), ENDPOINT)
    yield RawClient(emulator.emulator_port)


def record(cc: str, num: str, avg: str, at: str) -> list[dict[str, str]]:
    return [
        {"FeatureName": n, "ValueAsString": v}
        for n, v in (("cc_num", cc), ("num_trans", num), ("avg_amt", avg), ("trans_time", at))
    ]


@FUZZ
@given(cc=RECORD_IDS, num=INTEGRALS, avg=FRACTIONALS, at=EVENT_TIMES, ttl=TTLS)
def test_put_record_is_never_5xx_and_a_2xx_put_reads_back(
    fuzzed: RawClient, cc: str, num: str, avg: str, at: str, ttl: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {"Record": record(cc, num, avg, at), **({"TtlDuration": ttl} if ttl else {})}
    put = fuzzed.send("PUT", f"/FeatureGroup/{GROUP}", body)
    assert put.status < 500, put
    if put.status < 300:
        got = fuzzed.send(
            "POST",
            "/BatchGetRecord",
            {
                "ExpirationTimeResponse": "Enabled",
                "Identifiers": [{"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": [cc]}],
            },
        )
        assert got.status == 200, got
        values = {f["FeatureName"]: f["ValueAsString"] for r in got.json()["Records"] for f in r["Record"]}
        # an older event time than a stored record's keeps the stored one: only check a record we own
        if values.get("trans_time") == at:
            assert values == {"cc_num": cc, "num_trans": num, "avg_amt": avg, "trans_time": at}


@FUZZ
@given(at=EVENT_TIMES, ttl=TTLS, n=st.integers(min_value=0, max_value=10**6))
def test_ttls_at_and_past_their_limits_never_5xx_on_put_or_read(
    fuzzed: RawClient, at: str, ttl: dict[str, Any] | None, n: int
) -> None:
    """A valid record with a TTL: the expiry time is computed on put and written out (ExpiresAt) on read."""
    cc = f"ttl-{n}"
    body: dict[str, Any] = {"Record": record(cc, "1", "1.5", at), **({"TtlDuration": ttl} if ttl else {})}
    assert fuzzed.send("PUT", f"/FeatureGroup/{GROUP}", body).status < 500
    got = fuzzed.send(
        "GET", f"/FeatureGroup/{GROUP}?RecordIdentifierValueAsString={cc}&ExpirationTimeResponse=Enabled"
    )
    assert got.status == 200, got


@FUZZ
@given(
    name=st.one_of(st.just(GROUP), sized_text(around(NAME_MAX)), st.text(max_size=80)),
    rid=RECORD_IDS,
    features=st.lists(sized_text(around(64)), max_size=3),
)
def test_get_record_is_never_5xx(fuzzed: RawClient, name: str, rid: str, features: list[str]) -> None:
    query = urlencode([("RecordIdentifierValueAsString", rid), *(("FeatureName", f) for f in features)])
    answer = fuzzed.send("GET", f"/FeatureGroup/{quote(name, safe='')}?{query}")
    assert answer.status < 500, answer


@FUZZ
@given(
    counts=st.lists(st.one_of(around(100), st.integers(min_value=0, max_value=3)), min_size=0, max_size=3),
    name=st.one_of(st.just(GROUP), sized_text(around(NAME_MAX))),
    rid=st.text(max_size=20),
    long_id=st.one_of(st.none(), sized_text(around(VALUE_MAX))),
)
def test_batch_get_record_is_never_5xx(
    fuzzed: RawClient, counts: list[int], name: str, rid: str, long_id: str | None
) -> None:
    identifiers = [
        {"FeatureGroupName": name, "RecordIdentifiersValueAsString": [f"{rid}{i}" for i in range(n)]}
        for n in counts
    ]
    if long_id is not None:  # one identifier at the length limit (a hundred of them would be 36 MB)
        identifiers.append({"FeatureGroupName": GROUP, "RecordIdentifiersValueAsString": [long_id]})
    answer = fuzzed.send("POST", "/BatchGetRecord", {"Identifiers": identifiers})
    assert answer.status < 500, answer


@FUZZ
@given(
    name=st.one_of(sized_text(around(64), "abc123"), st.text(max_size=70)),
    feature_count=st.one_of(st.integers(min_value=0, max_value=4), around(2500)),
    feature_name=st.one_of(
        sized_text(around(64), "abc"), st.sampled_from(["is_deleted", "write_time", "1a"])
    ),
    ttl=TTLS,
    uri=st.one_of(
        st.none(),
        st.sampled_from(
            [
                "s3://fuzz-bucket/x",
                "s3://../featurestore.db",
                "s3://a/b",
                "s3://" + "b" * 64 + "/k",
                "s3://ok-bucket/" + "k" * 1100,
            ]
        ),
    ),
)
def test_create_feature_group_is_never_5xx(
    emulator: Settings,
    fuzzed: RawClient,
    name: str,
    feature_count: int,
    feature_name: str,
    ttl: dict[str, Any] | None,
    uri: str | None,
) -> None:
    definitions = [
        {"FeatureName": "id", "FeatureType": "String"},
        {"FeatureName": "t", "FeatureType": "Fractional"},
    ]
    definitions += [
        {"FeatureName": f"{feature_name}{i}"[:70], "FeatureType": "Integral"} for i in range(feature_count)
    ]
    online: dict[str, Any] = {"EnableOnlineStore": True, **({"TtlDuration": ttl} if ttl else {})}
    body: dict[str, Any] = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "t",
        "FeatureDefinitions": definitions,
        "OnlineStoreConfig": online,
    }
    if uri is not None:
        body |= {
            "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": uri}},
            "RoleArn": "arn:aws:iam::000000000000:role/r",
        }
    answer = fuzzed.sagemaker("CreateFeatureGroup", body)
    assert answer.status < 500, answer
    if answer.status < 300:
        described = fuzzed.sagemaker("DescribeFeatureGroup", {"FeatureGroupName": name})
        assert described.status == 200 and described.json()["FeatureGroupName"] == name
        assert fuzzed.sagemaker("DeleteFeatureGroup", {"FeatureGroupName": name}).status == 200


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.lists(st.text(alphabet="0123456789.,-eE naix", max_size=12), max_size=5).map(
            lambda rows: "\n".join(rows).encode()
        ),
    ),
    content_type=st.one_of(
        st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8", "image/png"]),
        sized_text(around(1024), "a/b;"),
    ),
    accept=st.one_of(
        st.none(),
        st.sampled_from(["text/csv, application/json", "application/json;q=0.5, */*", "image/png", "*/*"]),
        sized_text(around(1024), "a/b, "),
    ),
)
def test_invoke_endpoint_is_never_5xx(
    fuzzed: RawClient, body: bytes, content_type: str, accept: str | None
) -> None:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept is not None else {})}
    answer = fuzzed.send("POST", f"/endpoints/{ENDPOINT}/invocations", body, headers)
    assert answer.status < 500, answer
    if answer.status >= 400:
        assert answer.error_code in ("ModelError", "ValidationError"), answer
