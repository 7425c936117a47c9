"""Build the Managed Flink application zip (`make package`): main.py, the fraudkit modules it imports, the jars.

Managed Service for Apache Flink runs a PyFlink application from a zip in S3: `main.py` at the top,
the Python modules beside it, and the connector jars under lib/. The Kafka SQL connector and the MSK IAM
authentication jar come from Maven Central and GitHub; the build downloads them into build/flink-jars/
where the network allows, and otherwise stops with one line naming the jars to put there by hand.
`app_config.json` carries the kit's topic names and allowed lateness (from `fraudkit.config.Settings`
and the stream aggregator), so the application and the local pipeline agree.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from fraudkit.aws.package import REPO_ROOT, PackageError, write_zip

APP_ZIP = "fraudkit-flink-app.zip"
JAR_DIR = REPO_ROOT / "build" / "flink-jars"
# the Kafka connector release for Flink 1.20, and the MSK IAM login module with its dependencies
JARS = {
    "flink-sql-connector-kafka-3.3.0-1.20.jar": "https://repo1.maven.org/maven2/org/apache/flink/"
    "flink-sql-connector-kafka/3.3.0-1.20/flink-sql-connector-kafka-3.3.0-1.20.jar",
    "aws-msk-iam-auth-2.2.0-all.jar": "https://github.com/aws/aws-msk-iam-auth/releases/download/v2.2.0/"
    "aws-msk-iam-auth-2.2.0-all.jar",
}
# main.py's imports, and what those import (fraudkit.features' __init__ binds its heavy names lazily)
MODULES = (
    "fraudkit/__init__.py",
    "fraudkit/lazy.py",
    "fraudkit/features/__init__.py",
    "fraudkit/features/spec.py",
    "fraudkit/features/sql.py",
    "fraudkit/features/flink_job.py",
)
DOWNLOAD_TIMEOUT_S = 20


def fetch_jars(jar_dir: Path | None = None) -> list[Path]:
    """The connector jars in `jar_dir` (default JAR_DIR), downloading the missing ones; PackageError naming any that fail."""
    jar_dir = JAR_DIR if jar_dir is None else jar_dir
    jar_dir.mkdir(parents=True, exist_ok=True)
    missing = []
    for name, url in JARS.items():
        target = jar_dir / name
        if target.is_file():
            continue
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                partial = target.with_suffix(".partial")
                partial.write_bytes(response.read())
                partial.replace(target)
        except OSError:
            missing.append(f"{name} ({url})")
    if missing:
        raise PackageError(f"flink app: cannot download {'; '.join(missing)}: put them in {jar_dir}/ and run make package again")
    return [jar_dir / name for name in JARS]


def app_config() -> dict[str, object]:
    """The defaults main.py reads beside itself: the kit's topic names and allowed lateness."""
    from datetime import timedelta

    from fraudkit.config import Settings
    from fraudkit.streaming.aggregator import DEFAULT_LATENESS

    settings = Settings.load(backend="aws")
    return {
        "transactions_topic": settings.transactions_topic,
        "features_topic": settings.features_topic,
        "dead_letter_topic": settings.dead_letter_topic,
        "lateness_ms": DEFAULT_LATENESS // timedelta(milliseconds=1),
        "group_id": "fraudkit-flink-aggregator",
        "bootstrap_servers": "",  # a runtime property on AWS (MSK brokers are not a CloudFormation attribute)
        "security_protocol": "SASL_SSL",
    }


def stage(app_dir: Path, jars: list[Path]) -> Path:
    """The application's files in `app_dir` (replaced): main.py, app_config.json, the modules, lib/*.jar."""
    shutil.rmtree(app_dir, ignore_errors=True)
    (app_dir / "lib").mkdir(parents=True)
    shutil.copyfile(Path(__file__).with_name("main.py"), app_dir / "main.py")
    (app_dir / "app_config.json").write_text(json.dumps(app_config(), indent=2, sort_keys=True) + "\n")
    for module in MODULES:
        (app_dir / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "lib" / module, app_dir / module)
    for jar in jars:
        shutil.copyfile(jar, app_dir / "lib" / jar.name)
    return app_dir


def build(out: Path, jar_dir: Path | None = None) -> Path:
    """The application zip in `out` (reproducible bytes); PackageError when the jars cannot be had."""
    jars = fetch_jars(jar_dir)
    app_dir = stage(out / "flink-app", jars)
    destination = out / APP_ZIP
    write_zip(app_dir, destination)
    return destination
