"""The generated Redshift SQL: sqlglot's Redshift dialect parses what it supports; the statements it does not
(external schema over MSK, CREATE MODEL, roles, masking policies) are checked against the documented grammar;
and the feature SQL is checked for the reference design's bugs, by structure and by running it."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import polars as pl
import pytest
import sqlglot
from fraudkit.config import Settings
from fraudkit.features import HANDBOOK_FEATURES, compute_features, feature_differences
from fraudkit.features.sql import redshift_sql
from fraudkit.model.specs import HANDBOOK_MODEL_FEATURES
from fraudkit.warehouse import RedshiftTargets, redshift_statements, script
from fraudkit.warehouse.masking import MASKS, PII_COLUMNS
from fraudkit.warehouse.redshift import HYPERPARAMETERS
from sqlglot import exp

from data_gen import handbook

TARGETS = RedshiftTargets.for_settings(Settings.load(scale="tiny", state_dir="/nonexistent"))
STATEMENTS = redshift_statements(TARGETS)
ARN = r"'arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{12}:[^']+'"
# the documented syntax (Redshift Database Developer Guide) of what sqlglot does not parse, as patterns
GRAMMAR = {
    "CREATE EXTERNAL SCHEMA": rf"CREATE EXTERNAL SCHEMA (IF NOT EXISTS )?\w+ FROM MSK IAM_ROLE {ARN} AUTHENTICATION iam "
    rf"CLUSTER_ARN {ARN}",
    "CREATE MODEL": r"CREATE MODEL \w+\nFROM \((?P<query>SELECT .+)\)\nTARGET (?P<target>\w+)\nFUNCTION \w+\n"
    rf"IAM_ROLE (default|{ARN})\nAUTO OFF\nMODEL_TYPE XGBOOST\nOBJECTIVE 'binary:logistic'\nPREPROCESSORS 'none'\n"
    r"HYPERPARAMETERS DEFAULT EXCEPT \((?P<hyper>(\w+ '[^']*'(, )?)+)\)\nSETTINGS \(S3_BUCKET '[a-z0-9.-]+'\)",
    "CREATE ROLE": r"CREATE ROLE \w+",
    "CREATE MASKING POLICY": r"CREATE MASKING POLICY \w+ WITH \((?P<input>\w+) (?P<type>VARCHAR\(\d+\))\) "
    r"USING \((?P<expression>.+)\)",
    "ATTACH MASKING POLICY": r"ATTACH MASKING POLICY \w+ ON \w+\((?P<column>\w+)\) TO (PUBLIC|ROLE \w+) PRIORITY \d+",
}


def _unsupported(statement: str) -> str | None:
    return next((prefix for prefix in GRAMMAR if statement.startswith(prefix)), None)


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: s.splitlines()[0][:60])
def test_every_statement_parses_or_matches_the_documented_grammar(statement: str) -> None:
    prefix = _unsupported(statement)
    if prefix is None:
        parsed = sqlglot.parse_one(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
        assert not isinstance(parsed, exp.Command), "sqlglot fell back to a raw command"
    else:
        assert re.fullmatch(GRAMMAR[prefix], statement, flags=re.DOTALL), f"{prefix} does not follow the documented grammar"


def test_the_script_has_every_part_of_the_path() -> None:
    text = script(STATEMENTS)
    assert text.count(";") == len(STATEMENTS) and text.endswith(";\n")
    for prefix in (*GRAMMAR, "CREATE MATERIALIZED VIEW transactions_stream AUTO REFRESH YES", "CREATE VIEW transaction_features",
                   "CREATE VIEW transaction_predictions", "CREATE TABLE IF NOT EXISTS customers"):
        assert any(s.startswith(prefix) for s in STATEMENTS), prefix


def test_streaming_view_reads_msk_and_keeps_one_row_per_transaction() -> None:
    view = next(s for s in STATEMENTS if s.startswith("CREATE MATERIALIZED VIEW"))
    assert f'FROM msk_fraud."{TARGETS.topic}"' in view and "CAN_JSON_PARSE(kafka_value)" in view
    parsed = sqlglot.parse_one(next(s for s in STATEMENTS if s.startswith("CREATE VIEW transactions ")), read="redshift")
    window = parsed.find(exp.Window)
    assert window is not None and window.args["partition_by"][0].name == "transaction_id"


def test_create_model_states_objective_hyperparameters_and_a_time_based_training_query() -> None:
    statement = next(s for s in STATEMENTS if s.startswith("CREATE MODEL"))
    match = re.fullmatch(GRAMMAR["CREATE MODEL"], statement, flags=re.DOTALL)
    assert match is not None and match["target"] == "tx_fraud"
    stated = dict(re.findall(r"(\w+) '([^']*)'", match["hyper"]))
    assert stated == {name: str(value) for name, value in HYPERPARAMETERS.items()} and "NUM_ROUND" in stated
    query = sqlglot.parse_one(match["query"], read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert [c.alias_or_name for c in query.expressions] == [*HANDBOOK_MODEL_FEATURES, "tx_fraud"]
    period = [lit.this for lit in query.find(exp.Where).find_all(exp.Literal)]  # type: ignore[union-attr]
    assert period == [str(TARGETS.train_start), str(TARGETS.train_end)] and TARGETS.train_start < TARGETS.train_end


def test_every_personal_column_is_masked_for_public_and_unmasked_for_one_role_only() -> None:
    attached = [re.fullmatch(GRAMMAR["ATTACH MASKING POLICY"], s) for s in STATEMENTS if s.startswith("ATTACH")]
    public = sorted(m["column"] for m in attached if m and " TO PUBLIC " in m[0])
    privileged = sorted(m["column"] for m in attached if m and " TO ROLE fraud_investigator " in m[0])
    assert public == privileged == sorted(PII_COLUMNS)
    for mask in MASKS:
        policy = next(s for s in STATEMENTS if s.startswith(f"CREATE MASKING POLICY {mask.policy} "))
        match = re.fullmatch(GRAMMAR["CREATE MASKING POLICY"], policy)
        assert match is not None and match["expression"].startswith("CAST(") and match["expression"].endswith(f"AS {match['type']})")


# -- the reference design's bugs, caught by structure --
def feature_sql_problems(sql: str) -> list[str]:
    """What makes feature SQL wrong in the ways the reference design's is."""
    tree = sqlglot.parse_one(sql, read="redshift")
    problems = []
    if tree.find(exp.CurrentDate, exp.CurrentTimestamp) or re.search(r"getdate\(|sysdate", sql, re.IGNORECASE):
        problems.append("windows anchored on the query's date instead of each transaction")
    if any(c.to.this == exp.DataType.Type.DATE for c in tree.find_all(exp.Cast)):
        problems.append("windows anchored on calendar dates")
    for node in tree.find_all(exp.Div, exp.Avg):
        operands = [node.this, node.expression] if isinstance(node, exp.Div) else [node.this]
        if not all(isinstance(o, exp.Cast) and o.to.this == exp.DataType.Type.DOUBLE for o in operands):
            problems.append(f"integer arithmetic: {node.sql('redshift')}")
    for node in tree.find_all(exp.Sum):
        alias = node.find_ancestor(exp.Alias)
        if alias is not None and "nb_tx" in alias.alias:
            problems.append(f"a count that sums: {alias.sql('redshift')}")
    for node in tree.find_all(exp.In):
        weekday = "dow" in node.this.sql("redshift").lower() or "dayofweek" in node.this.sql("redshift").lower()
        if weekday and sorted(int(e.this) for e in node.expressions) != [0, 6]:  # Redshift: Sunday 0, Saturday 6
            problems.append(f"weekday codes: {node.sql('redshift')}")
    return problems


def test_the_generated_feature_sql_has_none_of_the_reference_bugs() -> None:
    assert feature_sql_problems(redshift_sql(HANDBOOK_FEATURES)) == []


@pytest.mark.parametrize(
    "snippet",
    [  # the reference design's own lines (aws-samples/amazon-redshift-ml-getting-started, fraud use case)
        "SELECT CASE WHEN EXTRACT(dow FROM CAST(tx_datetime AS TIMESTAMP)) IN (1, 7) THEN 1 ELSE 0 END FROM t",
        "SELECT SUM(CASE WHEN CAST(tx_datetime AS DATE) = CAST(GETDATE() AS DATE) THEN tx_amount ELSE 0 END) "
        "AS customer_id_nb_tx_1day_window FROM t",
        "SELECT nb_fraud_window1 / terminal_id_nb_tx_1day_window AS terminal_id_risk_1day_window FROM t",
        "SELECT AVG(tx_fraud) AS terminal_id_risk_1day_window FROM t",
    ],
)
def test_the_checks_catch_the_reference_design_bugs(snippet: str) -> None:
    assert feature_sql_problems(snippet)


# -- and by running the generated text --
def test_the_redshift_feature_sql_computes_the_polars_features() -> None:
    """Transpiled to DuckDB by sqlglot and run: counts exact, means within 1e-9 of the polars engine."""
    transactions = handbook.generate(60, 120, 50, seed=5)["transactions"]
    duck_sql = sqlglot.transpile(redshift_sql(HANDBOOK_FEATURES), read="redshift", write="duckdb")[0]
    with duckdb.connect() as connection:
        connection.register("transactions", transactions)
        got = connection.sql(f"SELECT * FROM ({duck_sql}) ORDER BY transaction_id").pl()
    expected = compute_features(transactions, HANDBOOK_FEATURES, "polars")
    differences = feature_differences(expected, got.select(HANDBOOK_FEATURES.feature_names), HANDBOOK_FEATURES)
    assert differences["count_mismatches"] == 0 and differences["max_float_difference"] <= 1e-9


def test_weekend_is_saturday_and_sunday_in_redshift_codes() -> None:
    days = pl.DataFrame({"tx_datetime": [datetime(2018, 4, d, 12) for d in (6, 7, 8, 9)]})  # Fri, Sat, Sun, Mon
    flag = next(f for f in HANDBOOK_FEATURES.flags if f.kind == "weekend")
    from fraudkit.features.sql import REDSHIFT, flag_sql

    duck = sqlglot.transpile(f"SELECT {flag_sql(REDSHIFT, flag, 'tx_datetime')} FROM days", read="redshift", write="duckdb")[0]
    with duckdb.connect() as connection:
        connection.register("days", days)
        assert [row[0] for row in connection.sql(duck).fetchall()] == [0, 1, 1, 0]


def _stack(outputs: dict[str, str]) -> dict[str, object]:
    return {
        "StackName": "fraudkit",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/fraudkit/5f1e",
        "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": datetime(2026, 11, 1),
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
    }


DEPLOYED = {
    "WarehouseRoleArn": "arn:aws:iam::123456789012:role/fraudkit-WarehouseRole-1A2B",
    "MskClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/fraudkit-msk/5b7c-2",
    "OfflineStoreBucket": "fraudkit-databucket-9x8y",
}


def test_on_aws_the_script_names_the_deployed_role_cluster_and_bucket() -> None:
    import boto3
    from botocore.stub import Stubber
    from fraudkit.warehouse.redshift import stack_target_arns

    settings = Settings.load(backend="aws", scale="tiny", state_dir="/nonexistent")
    cloudformation = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", {"Stacks": [_stack(DEPLOYED)]}, {"StackName": settings.stack_name})
        targets = RedshiftTargets.for_settings(settings, **stack_target_arns(settings, cloudformation))
    text = script(redshift_statements(targets))
    assert f"IAM_ROLE '{DEPLOYED['WarehouseRoleArn']}'" in text
    assert f"CLUSTER_ARN '{DEPLOYED['MskClusterArn']}'" in text
    assert f"S3_BUCKET '{DEPLOYED['OfflineStoreBucket']}'" in text


def test_a_stack_deployed_without_the_warehouse_says_which_output_is_missing() -> None:
    import boto3
    from botocore.stub import Stubber
    from fraudkit.aws.stack import StackNotReady
    from fraudkit.warehouse.redshift import stack_target_arns

    settings = Settings.load(backend="aws", scale="tiny", state_dir="/nonexistent")
    cloudformation = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")
    without = {key: value for key, value in DEPLOYED.items() if key != "WarehouseRoleArn"}
    with Stubber(cloudformation) as stub, pytest.raises(StackNotReady, match="WarehouseRoleArn"):
        stub.add_response("describe_stacks", {"Stacks": [_stack(without)]}, {"StackName": settings.stack_name})
        stack_target_arns(settings, cloudformation)
