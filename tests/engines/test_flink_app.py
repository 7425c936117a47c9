"""The Managed Flink application's main.py, staged as `make package` zips it, run offline on PyFlink.

Files (JSON lines) stand in for the topics: the producer's transaction messages in, out of event-time
order with late rows. Every `features` message is one the Lambda handlers accept, with the aggregates
the kit's stream aggregator converges to; the late rows reach the dead-letter file with the reason,
the same rows the aggregator dead-letters. The app runs from the staged directory with no fraudkit on
the path but the modules packaged beside main.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fraudkit.aws.package import PackageError
from fraudkit.features.engines_venv import ensure_engines_venv, java_home
from fraudkit.streaming.flink_app import package
from fraudkit.streaming.flink_app.package import MODULES, stage
from fraudkit.streaming.records import (
    COUNT_FEATURE,
    MEAN_FEATURE,
    Transaction,
    parse_time,
    to_micros,
    validate_enriched,
)

from tests.engines.test_flink import LATE_STREAM, aggregator_values

pytestmark = pytest.mark.slow


def read_lines(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(directory.glob("part-*")) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def app_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("flink-app")
    app = stage(root / "app", jars=[])  # offline: no Kafka connector needed for files
    source = root / "transactions.jsonl"
    source.write_text("".join(
        json.dumps(Transaction(str(i), row["cc_num"], row["amount"], to_micros(row["event_time"])).to_message()) + "\n"
        for i, row in enumerate(LATE_STREAM.to_dicts())
    ))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    env["JAVA_HOME"] = java_home()
    done = subprocess.run(
        [str(ensure_engines_venv()), "main.py", "--source-path", str(source), "--sink-path", str(root / "features"),
         "--dead-letter-path", str(root / "dead-letter")],
        cwd=app, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return read_lines(root / "features"), read_lines(root / "dead-letter")


def test_the_zip_holds_main_the_modules_and_the_config(tmp_path: Path) -> None:
    app = stage(tmp_path / "app", jars=[])
    assert {p.relative_to(app).as_posix() for p in app.rglob("*.py")} == {"main.py", *MODULES}
    config = json.loads((app / "app_config.json").read_text())
    assert config["lateness_ms"] == 30_000 and config["security_protocol"] == "SASL_SSL"


def test_features_messages_are_the_aggregators(app_output: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    features, dead = app_output
    final, rejected = aggregator_values(LATE_STREAM.to_dicts())
    assert sorted(int(m["tid"]) for m in features) == sorted(final)
    for message in features:
        validate_enriched(message)  # what the ingest and scoring handlers check
        expected = final[int(message["tid"])]
        assert message[COUNT_FEATURE] == expected.count
        assert message[MEAN_FEATURE] == pytest.approx(expected.mean, abs=1e-9, rel=0)
        assert parse_time(message["event_time"]) == expected.event_micros
    assert sorted(int(m["tid"]) for m in dead) == rejected
    assert {m["reason"] for m in dead} == {"event_time is behind the watermark (too late)"}



def test_packaging_names_the_jars_to_fetch_when_it_cannot_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def offline(url: str, timeout: float) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(package.urllib.request, "urlopen", offline)
    with pytest.raises(PackageError) as failure:
        package.fetch_jars(tmp_path / "jars")
    message = str(failure.value)
    assert "\n" not in message and str(tmp_path / "jars") in message
    assert all(name in message for name in package.JARS)


def test_the_zip_carries_the_jars_put_in_place_by_hand(tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    for name in package.JARS:
        (jars / name).write_bytes(b"jar")
    first = package.build(tmp_path / "one", jars)
    with zipfile.ZipFile(first) as archive:
        names = set(archive.namelist())
    assert {"main.py", "app_config.json", *MODULES, *(f"lib/{name}" for name in package.JARS)} <= names
    assert first.read_bytes() == package.build(tmp_path / "two", jars).read_bytes(), "the same inputs give the same bytes"
