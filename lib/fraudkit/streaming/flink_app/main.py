"""PyFlink application (Amazon Managed Service for Apache Flink, runtime 1.20): the 10-minute card aggregates.

The AWS twin of the kit's stream aggregator: reads the `transactions` topic (JSON, as the producer
writes it), computes `num_trans_last_10m` and `avg_amt_last_10m` per card with the Flink SQL generated
from the feature specification (`fraudkit.features.sql.flink_sql`), and writes every transaction with
its aggregates to the `features` topic in the aggregator's message shape, which the ingest Lambda
writes to `cc-agg-fg` and the scoring Lambda scores. Rows behind the watermark (the kit's allowed
lateness) go to the `dead-letter` topic with the reason, as the aggregator dead-letters them.

Configuration: `app_config.json` beside this file (topic names and lateness, written by the packager
from the kit's settings), overridden by the runtime properties of the property group `FraudkitFlink`
(`BootstrapServers` is required on AWS; MSK with IAM over TLS). For the offline tests, `--source-path`,
`--sink-path` and `--dead-letter-path` put files (JSON lines) in place of the topics.

The zip holds this file, the few fraudkit modules it imports (spec, sql, flink_job) and, under lib/,
the Kafka connector and the MSK IAM jars.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the fraudkit modules packaged beside this file

from fraudkit.features.flink_job import late_rows_sql, on_time_view, source_ddl  # noqa: E402
from fraudkit.features.spec import CARD_FEATURES, WINDOW_10M  # noqa: E402
from fraudkit.features.sql import flink_sql  # noqa: E402

PROPERTIES_FILE = Path("/etc/flink/application_properties.json")  # where Managed Flink puts runtime properties
PROPERTY_GROUP = "FraudkitFlink"
STAGE = "flink-aggregator"
TRANSACTION_COLUMNS = [("tid", "STRING"), ("cc_num", "STRING"), ("amount", "DOUBLE"), ("event_time", "TIMESTAMP_LTZ(3)")]
COUNT, MEAN = (a.name for a in CARD_FEATURES.aggregates if a.window == WINDOW_10M)
FEATURE_COLUMNS = [*TRANSACTION_COLUMNS, (COUNT, "BIGINT"), (MEAN, "DOUBLE"), ("revision", "INT"), ("produced_ms", "BIGINT")]
DEAD_LETTER_COLUMNS = [("reason", "STRING"), ("stage", "STRING"), *TRANSACTION_COLUMNS]
JSON = "'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601'"
MSK_IAM = (
    "'properties.security.protocol' = 'SASL_SSL', 'properties.sasl.mechanism' = 'AWS_MSK_IAM', "
    "'properties.sasl.jaas.config' = 'software.amazon.msk.auth.iam.IAMLoginModule required;', "
    "'properties.sasl.client.callback.handler.class' = 'software.amazon.msk.auth.iam.IAMClientCallbackHandler'"
)


def load_config(properties_file: Path = PROPERTIES_FILE) -> dict[str, Any]:
    """app_config.json, then the runtime property group FraudkitFlink on top (keys as in app_config.json)."""
    config: dict[str, Any] = json.loads((HERE / "app_config.json").read_text())
    if properties_file.is_file():
        for group in json.loads(properties_file.read_text()):
            if group.get("PropertyGroupId") == PROPERTY_GROUP:
                config.update(group.get("PropertyMap", {}))
    return config


def kafka_options(config: dict[str, Any], topic: str, reading: bool) -> str:
    options = f"'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{config['bootstrap_servers']}', {JSON}"
    if reading:  # a fresh application reads the topic from its start; a restarted one from its checkpoint
        options += f", 'properties.group.id' = '{config['group_id']}', 'scan.startup.mode' = 'earliest-offset'"
        options += ", 'json.ignore-parse-errors' = 'true'"
    else:
        options += ", 'sink.delivery-guarantee' = 'at-least-once'"  # replays are idempotent (event-time overwrite)
    if config.get("security_protocol", "SASL_SSL") == "SASL_SSL":
        options += f", {MSK_IAM}"
    return options


def file_options(path: str) -> str:
    return f"'connector' = 'filesystem', 'path' = '{path}', {JSON}"


def table(name: str, columns: list[tuple[str, str]], options: str) -> str:
    body = ", ".join(f"{column} {kind}" for column, kind in columns)
    return f"CREATE TEMPORARY TABLE {name} ({body}) WITH ({options})"


def statements(source: str, sink: str, dead_letter: str, lateness: timedelta) -> tuple[list[str], list[str]]:
    """(DDL, INSERTs): the windows over the on-time rows to `features`, the late rows to `dead-letter`."""
    ts = CARD_FEATURES.timestamp
    ddl = [
        source_ddl("transactions_topic", TRANSACTION_COLUMNS, ts, lateness, source),
        on_time_view("transactions", "transactions_topic", ts),
        table("features_topic", FEATURE_COLUMNS, sink),
        table("late_transactions", DEAD_LETTER_COLUMNS, dead_letter),
        f"CREATE TEMPORARY VIEW late_rows AS SELECT 'event_time is behind the watermark (too late)' AS reason, "
        f"'{STAGE}' AS stage, * FROM transactions_topic",
    ]
    windowed = flink_sql(CARD_FEATURES, WINDOW_10M, "transactions", carry=("tid", "amount"))
    columns = ", ".join(name for name, _ in TRANSACTION_COLUMNS)
    inserts = [
        f"INSERT INTO features_topic SELECT {columns}, {COUNT}, {MEAN}, 0 AS revision, "
        f"CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000 AS produced_ms FROM (\n{windowed}\n)",
        late_rows_sql("late_transactions", "late_rows", ts),
    ]
    return ddl, inserts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The kit's 10-minute card aggregates as a Flink SQL application.")
    parser.add_argument("--source-path", help="JSON-lines transactions file in place of the transactions topic")
    parser.add_argument("--sink-path", help="directory in place of the features topic")
    parser.add_argument("--dead-letter-path", help="directory in place of the dead-letter topic")
    args = parser.parse_args(argv)
    config = load_config()
    if args.source_path:
        source, sink, dead_letter = (file_options(p) for p in (args.source_path, args.sink_path, args.dead_letter_path))
    else:
        source = kafka_options(config, config["transactions_topic"], reading=True)
        sink = kafka_options(config, config["features_topic"], reading=False)
        dead_letter = kafka_options(config, config["dead_letter_topic"], reading=False)

    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    settings = env.get_config()
    settings.set("table.local-time-zone", "UTC")
    settings.set("pipeline.auto-watermark-interval", "0 ms")  # a watermark per row: late is the aggregator's rule
    jars = sorted((HERE / "lib").glob("*.jar"))
    if jars:
        settings.set("pipeline.jars", ";".join(jar.as_uri() for jar in jars))
    ddl, inserts = statements(source, sink, dead_letter, timedelta(milliseconds=int(config["lateness_ms"])))
    for statement in ddl:
        env.execute_sql(statement)
    statement_set = env.create_statement_set()
    for insert in inserts:
        statement_set.add_insert_sql(insert)
    result = statement_set.execute()
    if args.source_path or os.environ.get("FRAUDKIT_FLINK_WAIT"):  # a bounded file run: wait for its end
        result.wait()


if __name__ == "__main__":
    main()
