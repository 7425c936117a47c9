"""The warehouse path as Redshift SQL, generated from the same specification, model settings and masks.

Statements, in order: the external schema over MSK (IAM authentication), the streaming materialized view
(AUTO REFRESH YES) of the raw messages, a `transactions` view that parses them and keeps one row per
transaction id (Kafka delivers at least once), the customers table, the feature view (`redshift_sql`:
per-transaction event-time windows, the 7-day label delay, float division, Redshift's weekday codes),
CREATE MODEL (XGBoost, AUTO OFF, objective and hyperparameters stated, trained on the split's training
period), the prediction view calling the model's function, and masking policies: masked for PUBLIC, an
explicit pass-through for the privileged role.

Redshift references: CREATE EXTERNAL SCHEMA (FROM MSK ... AUTHENTICATION iam CLUSTER_ARN), streaming
ingestion from MSK (kafka_partition, kafka_offset, kafka_value; JSON_PARSE/CAN_JSON_PARSE), CREATE MODEL
("follow the order of the keywords"), CREATE/ATTACH MASKING POLICY ("a constant masking expression must be
cast to the input type"), DATE_PART (dayofweek: Sunday 0 ... Saturday 6), window functions (ROWS frames only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from data_gen.handbook import START
from fraudkit.config import LOCAL_ACCOUNT_ID, Settings
from fraudkit.features.spec import HANDBOOK_FEATURES
from fraudkit.features.sql import redshift_sql
from fraudkit.model.specs import HANDBOOK_MODEL_FEATURES, OURS_CONFIG
from fraudkit.model.splits import split_for
from fraudkit.warehouse.ingest import MESSAGE_SCHEMA, RAW_TABLE, handbook_topic
from fraudkit.warehouse.masking import CUSTOMERS_TABLE, MASKS, PII_COLUMNS, PII_TYPE
from fraudkit.warehouse.model import PREDICTIONS_VIEW, SCORE_FUNCTION
from fraudkit.warehouse.views import FEATURES_VIEW

EXTERNAL_SCHEMA = "msk_fraud"
STREAM_VIEW = "transactions_stream"
MODEL_NAME = "fraud_model"
ANALYST_ROLE = "fraud_analyst"
PRIVILEGED_ROLE = "fraud_investigator"
UNMASKED_POLICY = "unmask_customer_pii"
# XGBoost parameters of our configuration under the names CREATE MODEL takes (AUTO OFF has no early
# stopping, so the round count is stated); max_bin is the library default and not a Redshift name
HYPERPARAMETERS = {
    "NUM_ROUND": OURS_CONFIG.num_rounds,
    **{name.upper(): value for name, value in OURS_CONFIG.params.items() if name not in ("objective", "max_bin")},
}
_REDSHIFT_TYPES = {"Int64": "BIGINT", "Float64": "DOUBLE PRECISION", "String": "TIMESTAMP"}


@dataclass(frozen=True)
class RedshiftTargets:
    """What the script names in the account: the role Redshift assumes, the MSK cluster, the bucket CREATE
    MODEL stages data in, the topic, and the training period [train_start, train_end)."""

    iam_role_arn: str
    msk_cluster_arn: str
    s3_bucket: str
    topic: str
    train_start: datetime
    train_end: datetime

    @classmethod
    def for_settings(cls, settings: Settings, iam_role_arn: str | None = None, msk_cluster_arn: str | None = None,
                     s3_bucket: str | None = None) -> RedshiftTargets:
        """Defaults from the settings; the training period is the split of the data the scale generates
        (train and validation weeks: CREATE MODEL holds out its own validation data)."""
        first = datetime(START.year, START.month, START.day)
        split = split_for("handbook", first, first + timedelta(days=settings.sizes.days) - timedelta(seconds=1))
        return cls(
            iam_role_arn=iam_role_arn or f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:role/fraudkit-redshift",
            msk_cluster_arn=msk_cluster_arn
            or f"arn:aws:kafka:{settings.region}:{LOCAL_ACCOUNT_ID}:cluster/{settings.stack_name}/00000000-0000-0000-0000-000000000000-1",
            s3_bucket=s3_bucket or settings.offline_store_bucket,
            topic=handbook_topic(settings),
            train_start=split.train_start,
            train_end=split.gap_start,
        )


def stack_target_arns(settings: Settings, cloudformation: Any | None = None) -> dict[str, str]:
    """On the aws backend, the deployed stack's warehouse role, MSK cluster and bucket (`make deploy
    PARAMS=WarehouseWorkgroup=true`), as keyword arguments of `RedshiftTargets.for_settings`."""
    from fraudkit.aws.stack import describe_stack, missing_outputs, outputs_by_key

    stack = describe_stack(settings, cloudformation or settings.client("cloudformation"))
    outputs = outputs_by_key(stack)
    keys = {"iam_role_arn": "WarehouseRoleArn", "msk_cluster_arn": "MskClusterArn", "s3_bucket": "OfflineStoreBucket"}
    missing = [key for key in keys.values() if not outputs.get(key)]
    if missing:
        raise missing_outputs(settings.stack_name, missing)
    return {argument: outputs[key] for argument, key in keys.items()}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stream_statements(targets: RedshiftTargets) -> list[str]:
    fields = ",\n        ".join(
        f"CAST(CAST(payload.{name} AS VARCHAR) AS {_REDSHIFT_TYPES[str(kind)]}) AS {name}"
        if kind == MESSAGE_SCHEMA["tx_datetime"]
        else f"CAST(payload.{name} AS {_REDSHIFT_TYPES[str(kind)]}) AS {name}"
        for name, kind in MESSAGE_SCHEMA.items()
    )
    columns = ", ".join([*MESSAGE_SCHEMA, "kafka_partition", "kafka_offset"])
    return [
        f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {EXTERNAL_SCHEMA} FROM MSK IAM_ROLE {_quoted(targets.iam_role_arn)} "
        f"AUTHENTICATION iam CLUSTER_ARN {_quoted(targets.msk_cluster_arn)}",
        f"CREATE MATERIALIZED VIEW {STREAM_VIEW} AUTO REFRESH YES AS\n"
        "SELECT kafka_partition, kafka_offset, kafka_timestamp, JSON_PARSE(kafka_value) AS payload\n"
        f'FROM {EXTERNAL_SCHEMA}."{targets.topic}"\nWHERE CAN_JSON_PARSE(kafka_value)',
        # at-least-once delivery: keep the first copy of each transaction id
        f"CREATE VIEW {RAW_TABLE} AS\nSELECT {columns}\nFROM (\n"
        "    SELECT parsed.*, ROW_NUMBER() OVER (PARTITION BY transaction_id ORDER BY kafka_partition, kafka_offset) AS copy\n"
        f"    FROM (\n        SELECT\n        {fields},\n        kafka_partition, kafka_offset\n"
        f"        FROM {STREAM_VIEW}\n    ) AS parsed\n) AS numbered\nWHERE copy = 1",
    ]


def model_statements(targets: RedshiftTargets) -> list[str]:
    features = ", ".join(HANDBOOK_MODEL_FEATURES)
    period = (f"tx_datetime >= {_quoted(targets.train_start.isoformat(sep=' '))} "
              f"AND tx_datetime < {_quoted(targets.train_end.isoformat(sep=' '))}")
    hyperparameters = ", ".join(f"{name} {_quoted(str(value))}" for name, value in HYPERPARAMETERS.items())
    return [
        f"CREATE MODEL {MODEL_NAME}\n"
        f"FROM (SELECT {features}, tx_fraud FROM {FEATURES_VIEW} WHERE {period})\n"
        f"TARGET tx_fraud\nFUNCTION {SCORE_FUNCTION}\nIAM_ROLE {_quoted(targets.iam_role_arn)}\n"
        "AUTO OFF\nMODEL_TYPE XGBOOST\nOBJECTIVE 'binary:logistic'\nPREPROCESSORS 'none'\n"
        f"HYPERPARAMETERS DEFAULT EXCEPT ({hyperparameters})\n"
        f"SETTINGS (S3_BUCKET {_quoted(targets.s3_bucket)})",
        f"CREATE VIEW {PREDICTIONS_VIEW} AS\n"
        "SELECT f.transaction_id, f.tx_datetime, f.customer_id, c.name, c.email, c.phone, f.terminal_id,\n"
        f"    f.tx_amount, f.tx_fraud, {SCORE_FUNCTION}({', '.join(f'f.{n}' for n in HANDBOOK_MODEL_FEATURES)}) AS score\n"
        f"FROM {FEATURES_VIEW} AS f LEFT JOIN {CUSTOMERS_TABLE} AS c ON c.customer_id = f.customer_id",
    ]


def masking_statements() -> list[str]:
    statements = [f"CREATE ROLE {ANALYST_ROLE}", f"CREATE ROLE {PRIVILEGED_ROLE}"]
    statements += [f"GRANT SELECT ON {view} TO ROLE {ANALYST_ROLE}" for view in (FEATURES_VIEW, PREDICTIONS_VIEW)]
    statements += [f"GRANT SELECT ON {CUSTOMERS_TABLE} TO ROLE {PRIVILEGED_ROLE}"]
    statements += [
        f"CREATE MASKING POLICY {mask.policy} WITH ({mask.column} {PII_TYPE}) USING ({mask.sql()})" for mask in MASKS
    ]
    statements.append(f"CREATE MASKING POLICY {UNMASKED_POLICY} WITH (value {PII_TYPE}) USING (value)")
    statements += [
        f"ATTACH MASKING POLICY {mask.policy} ON {CUSTOMERS_TABLE}({mask.column}) TO PUBLIC PRIORITY 10" for mask in MASKS
    ]
    # the explicit privileged path: a higher-priority pass-through for one role, on every personal column
    statements += [
        f"ATTACH MASKING POLICY {UNMASKED_POLICY} ON {CUSTOMERS_TABLE}({column}) TO ROLE {PRIVILEGED_ROLE} PRIORITY 20"
        for column in PII_COLUMNS
    ]
    return statements


def redshift_statements(targets: RedshiftTargets) -> list[str]:
    """The whole Redshift path, one statement per item, in execution order."""
    columns = ", ".join(f"{column} {PII_TYPE}" for column in PII_COLUMNS)
    return [
        *stream_statements(targets),
        f"CREATE TABLE IF NOT EXISTS {CUSTOMERS_TABLE} (customer_id BIGINT NOT NULL, {columns}) DISTKEY (customer_id)",
        f"CREATE VIEW {FEATURES_VIEW} AS\n{redshift_sql(HANDBOOK_FEATURES, RAW_TABLE)}",
        *model_statements(targets),
        *masking_statements(),
    ]
