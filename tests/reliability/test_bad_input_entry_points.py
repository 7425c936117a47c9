"""Bad input at the kit's other entry points: the command lines, Kafka messages and notebook parameters.

Each must end in one clear message naming the bad input (no traceback), change nothing stored, and in
the stream route the message to the dead letters while valid traffic goes on. The emulator's HTTP API
has its own corpus (`test_emulator_bad_input.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from fraudkit.config import Settings
from fraudkit.featurestore.online import get_record
from fraudkit.streaming.kafka_clients import make_producer
from fraudkit.streaming.pipeline import make_stage
from fraudkit.streaming.producer import produce

from tests.fixtures.streaming import history, read_all, run_until_idle

ROOT = Path(__file__).resolve().parents[2]

# (arguments after `python -m`, a phrase the one-line error must contain)
CLI_CORPUS: list[tuple[list[str], str]] = [
    (["data_gen", "cards", "--scale", "huge", "--out", "{tmp}/d"], "--scale"),
    (["data_gen", "cards", "--scale", "tiny", "--out", "/dev/null/x"], "--out"),
    (["fraudkit.features", "cards", "--input", "{tmp}/missing.parquet", "--out", "{tmp}/out.parquet"], "no such file"),
    (["fraudkit.features", "cards", "--input", "{tmp}/text.parquet", "--out", "{tmp}/out.parquet"], "as Parquet"),
    (["fraudkit.features", "cards", "--input", "{tmp}/columns.parquet", "--out", "{tmp}/out.parquet"], "missing column"),
    (["fraudkit.features", "cards", "--input", "{tmp}/columns.parquet", "--out", "{tmp}", "--engine", "spark!"], "--engine"),
    (["fraudkit.model", "evaluate", "--data", "nope", "--out", "{tmp}/out.json"], "--data"),
    (["fraudkit.streaming", "produce", "--rate", "-5"], "--rate"),
    (["fraudkit.streaming", "produce", "--rate", "fast"], "--rate"),
    (["fraudkit.streaming", "burst", "--cc-num", "123"], "16 digits"),
    (["fraudkit.streaming", "produce", "--input", "{tmp}/text.parquet", "--state-dir", "{tmp}/st"], "as Parquet"),
    (["fraudkit.streaming", "produce", "--input", "{tmp}/columns.parquet", "--state-dir", "{tmp}/st"], "missing column"),
    (["fraudkit.streaming", "load", "--seconds", "0"], "--seconds"),
    (["fraudkit.streaming", "run", "--stage", "judge"], "--stage"),
    (["fraudkit.services", "restart"], "command"),
    (["fraudkit.emulator", "serve", "--port", "70000", "--state-dir", "{tmp}/st"], "--port"),
    (["fraudkit.workshop", "--scale", "galactic"], "--scale"),
]
ENV_CORPUS: list[tuple[dict[str, str], str]] = [
    ({"FRAUDKIT_SEED": "abc"}, "FRAUDKIT_SEED"),
    ({"FRAUDKIT_SCALE": "huge"}, "scale"),
    ({"FRAUDKIT_BACKEND": "gcp"}, "backend"),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad-input")
    (tmp / "text.parquet").write_text("transactions, but not Parquet\n")
    pl.DataFrame({"a": [1, 2]}).write_parquet(tmp / "columns.parquet")
    return tmp


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def assert_clear_error(result: subprocess.CompletedProcess[str], phrase: str) -> None:
    assert result.returncode not in (0, None), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "error" in last and phrase in last, last


@pytest.mark.parametrize(("args", "phrase"), CLI_CORPUS, ids=[" ".join(a[:3]) for a, _ in CLI_CORPUS])
def test_a_command_with_bad_input_says_what_is_wrong_and_writes_nothing(args: list[str], phrase: str, bad_files: Path) -> None:
    before = sorted(bad_files.rglob("*"))
    assert_clear_error(run_cli([arg.format(tmp=bad_files) for arg in args]), phrase)
    assert sorted(bad_files.rglob("*")) == before, "nothing written"


@pytest.mark.parametrize(("env", "phrase"), ENV_CORPUS, ids=[next(iter(e)) for e, _ in ENV_CORPUS])
def test_a_bad_setting_in_the_environment_is_named(env: dict[str, str], phrase: str, bad_files: Path) -> None:
    assert_clear_error(run_cli(["fraudkit.streaming", "demo", "--state-dir", str(bad_files / "st")], env), phrase)
    assert not (bad_files / "st").exists(), "nothing written"


MALFORMED_MESSAGES: list[bytes | None] = [
    None,  # a tombstone
    b"",
    b"\xff\xfe\x00 binary",
    b"null",
    b"[1, 2, 3]",
    b'"a string"',
    b'{"tid": "m1"}',
    b'{"tid": "m2", "cc_num": 4111111111111111, "amount": 5.0, "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m3", "cc_num": "411111111111111", "amount": 5.0, "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m4", "cc_num": "CARD", "amount": 1e999, "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m5", "cc_num": "CARD", "amount": "12.5", "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m6", "cc_num": "CARD", "amount": true, "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m7", "cc_num": "CARD", "amount": 5.0, "event_time": "yesterday"}',
    b'{"tid": "m8", "cc_num": "CARD", "amount": 5.0, "event_time": "99999-01-01T00:00:00Z"}',
    b'{"tid": 8, "cc_num": "CARD", "amount": 5.0, "event_time": "2026-01-01T00:00:00Z"}',
    b'{"tid": "m9", "cc_num": "CARD", "amount": 5.0, "event_time": 1700000000}',
]


def test_malformed_kafka_messages_become_dead_letters_and_change_nothing(topics: Settings) -> None:
    valid = history(topics, 60)
    card = valid["cc_num"][0]
    untouched = history(topics, 5000).filter(~pl.col("cc_num").is_in(valid["cc_num"].implode()))["cc_num"][0]
    stored_before = get_record(topics, topics.online_feature_group, untouched)
    producer = make_producer(topics)
    for value in MALFORMED_MESSAGES:
        body = None if value is None else value.replace(b"CARD", untouched.encode())
        producer.send(topics.transactions_topic, key=card.encode(), value=body)
    producer.flush()
    producer.close()
    produce(topics, valid)
    run_until_idle(topics, make_stage(topics, "aggregator"), idle_s=1.0)
    run_until_idle(topics, make_stage(topics, "scorer"), idle_s=1.0)

    letters = read_all(topics, topics.dead_letter_topic)
    assert len(letters) == len(MALFORMED_MESSAGES), [letter["reason"] for letter in letters]
    assert all(letter["stage"] == "aggregator" and letter["reason"] for letter in letters)
    assert {d["tid"] for d in read_all(topics, topics.decisions_topic)} == set(valid["tid"]), "valid traffic is decided"
    assert get_record(topics, topics.online_feature_group, untouched) == stored_before, "nothing stored changed"


def test_a_bad_notebook_parameter_stops_the_first_cell_with_its_name(tmp_path: Path) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as raised:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "00_setup.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"scale": "huge", "state_dir": str(tmp_path / "state")}, progress_bar=False,
            kernel_name="python3", cwd=str(ROOT / "notebooks"),
        )
    assert raised.value.ename == "SettingsError" and "scale='huge'" in raised.value.evalue
    assert not (tmp_path / "state").exists(), "nothing written"
