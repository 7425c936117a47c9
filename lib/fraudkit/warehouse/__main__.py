"""`python -m fraudkit.warehouse ingest|views|train|predict|sql`: the SQL-warehouse path from a shell."""

from __future__ import annotations

import argparse
import json
import sys

import duckdb
import polars as pl

from data_gen import ensure_dataset
from fraudkit.backends.base import BackendNotReady
from fraudkit.config import Settings, SettingsError, settings_arguments
from fraudkit.model.artifact import load_model_card, model_path
from fraudkit.warehouse.database import connect, warehouse_path
from fraudkit.warehouse.ingest import (
    DEFAULT_BATCH,
    RAW_TABLE,
    IngestResult,
    create_topic,
    follow,
    handbook_topic,
    ingest,
    publish,
)
from fraudkit.warehouse.masking import load_customers
from fraudkit.warehouse.model import MODEL_KIND, prediction_view_sql, predictions, train_and_evaluate
from fraudkit.warehouse.redshift import RedshiftTargets, redshift_statements, stack_target_arns
from fraudkit.warehouse.views import create_views, duckdb_statements, script


def _parser() -> argparse.ArgumentParser:
    common = settings_arguments()
    parser = argparse.ArgumentParser(
        prog="python -m fraudkit.warehouse",
        description="The SQL-warehouse path: the Handbook transactions streamed from Kafka into a DuckDB file "
        "under the state directory, features as views generated from the feature specification, the model "
        "applied in SQL, personal fields masked; or the same path as Redshift SQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("ingest", parents=[common], help="read the topic into the warehouse (one refresh)",
                              description="Read the Handbook topic from the warehouse's stored offsets to the end "
                              "(resumable, idempotent on transaction_id).")
    run.add_argument("--publish", action="store_true", help="first replay the generated Handbook transactions onto the topic")
    run.add_argument("--follow", action="store_true", help="keep refreshing every --interval seconds until interrupted")
    run.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes with --follow (default 1)")
    run.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"messages per transaction (default {DEFAULT_BATCH})")
    commands.add_parser("views", parents=[common], help="create the feature view and load the (masked) customers")
    commands.add_parser("train", parents=[common], help="train from the feature view, create the prediction view, report")
    predict = commands.add_parser("predict", parents=[common], help="print the newest rows of the prediction view")
    predict.add_argument("--limit", type=int, default=20, help="rows to print (default 20)")
    predict.add_argument("--flagged", action="store_true", help="only transactions above the threshold")
    sql = commands.add_parser("sql", parents=[common], help="print the generated SQL script",
                              description="Print the warehouse path as one SQL script, statements ended by semicolons.")
    sql.add_argument("--dialect", choices=["redshift", "duckdb"], required=True)
    sql.add_argument("--iam-role", help="Redshift: the role ARN for MSK and CREATE MODEL (default: the stack's WarehouseRoleArn with "
                     "--backend aws, else a placeholder ARN)")
    sql.add_argument("--cluster-arn", help="Redshift: the MSK cluster ARN (default: the stack's MskClusterArn with --backend aws, else a "
                     "placeholder ARN)")
    sql.add_argument("--bucket", help="Redshift: the S3 bucket CREATE MODEL uses (default: the settings' bucket)")
    return parser


def _print_ingest(result: IngestResult, total: int) -> None:
    print(f"read {result.read:,} messages: {result.inserted:,} new rows, {result.duplicates:,} repeats, "
          f"{result.rejected:,} malformed, in {result.seconds:.1f} s; the warehouse holds {total:,} transactions")


def _rows(connection: duckdb.DuckDBPyConnection) -> int:
    found = connection.execute(f"SELECT count(*) FROM {RAW_TABLE}").fetchone()
    return int(found[0]) if found else 0


def _sql(settings: Settings, args: argparse.Namespace) -> str:
    if args.dialect == "redshift":
        given = {"iam_role_arn": args.iam_role, "msk_cluster_arn": args.cluster_arn, "s3_bucket": args.bucket}
        deployed = stack_target_arns(settings) if settings.backend == "aws" else {}
        targets = RedshiftTargets.for_settings(
            settings, **{name: value or deployed.get(name) for name, value in given.items()}
        )
        return script(redshift_statements(targets))
    path = model_path(settings, MODEL_KIND)
    view = None
    if path.is_file():
        card = load_model_card(path)
        view = prediction_view_sql(card["features"], card["threshold"])
    return script(duckdb_statements(view))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "sql":
        try:
            print(_sql(settings, args), end="")
        except BackendNotReady as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    connection = connect(settings)
    try:
        if args.command == "ingest":
            if args.publish:
                create_topic(settings)
                frame = pl.read_parquet(ensure_dataset("handbook", settings) / "transactions.parquet")
                print(f"published {publish(settings, frame):,} transactions to {handbook_topic(settings)}")
            if args.follow:
                def on_refresh(result: IngestResult) -> bool:
                    if result.read:
                        _print_ingest(result, _rows(connection))
                    return False

                follow(settings, connection, args.interval, on_refresh)
            result = ingest(settings, connection, batch_size=args.batch_size)
            _print_ingest(result, _rows(connection))
        elif args.command == "views":
            create_views(connection)
            connection.close()  # the customers are loaded through the privileged connection
            print(f"views created in {warehouse_path(settings)}; customers loaded: {load_customers(settings):,}")
        elif args.command == "train":
            out = settings.state_dir / "reports" / settings.scale / "warehouse.json"
            report = train_and_evaluate(settings, connection, out)
            keys = ("average_precision", "roc_auc", "f1", "card_precision_at_100")
            print(json.dumps({key: round(report[key], 4) for key in keys}), f"(report: {out})")
        else:
            with pl.Config(tbl_rows=args.limit, tbl_cols=-1, tbl_width_chars=200):
                print(predictions(connection, args.limit, args.flagged))
    except KeyboardInterrupt:
        return 130
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
