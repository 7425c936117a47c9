"""The SQL-warehouse path (reference design 2): the stream lands in a warehouse, features are views, the
model runs in SQL and personal fields are masked.

Locally the warehouse is an embedded DuckDB file fed incrementally from the broker; on AWS the same path is
generated Redshift SQL (streaming ingestion from MSK, CREATE MODEL, masking policies). Both render the one
feature specification of `fraudkit.features.spec`.
"""

from fraudkit.warehouse.database import connect, warehouse_path
from fraudkit.warehouse.ingest import IngestResult, create_topic, handbook_topic, ingest, publish
from fraudkit.warehouse.masking import load_customers, read_customers_unmasked
from fraudkit.warehouse.model import PREDICTIONS_VIEW, predictions, train_and_evaluate
from fraudkit.warehouse.redshift import RedshiftTargets, redshift_statements
from fraudkit.warehouse.views import FEATURES_VIEW, create_views, duckdb_statements, script

__all__ = [
    "FEATURES_VIEW",
    "PREDICTIONS_VIEW",
    "IngestResult",
    "RedshiftTargets",
    "connect",
    "create_topic",
    "create_views",
    "duckdb_statements",
    "handbook_topic",
    "ingest",
    "load_customers",
    "predictions",
    "publish",
    "read_customers_unmasked",
    "redshift_statements",
    "script",
    "train_and_evaluate",
    "warehouse_path",
]
