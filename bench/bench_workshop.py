"""Workshop time per notebook, from the workshop's own run record (`build/workshop.json`, what `make workshop`
writes: status and seconds per notebook).

A record younger than RECENT_DAYS is used as it is (its scale is reported; it holds no load average, so the
load shown beside it is this benchmark's, not the run's). Without one, the workshop is run at the bench's
scale into a temporary directory, except at tiny: three minutes of notebooks do not fit `make bench
SCALE=tiny`'s two, so the report says the figure is missing and how to make the record. There is no baseline
in the same run: the figures are compared with the README's targets for the whole workshop.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import log, result

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "build" / "workshop.json"
RECENT_DAYS = 7
TARGET_SECONDS = {"tiny": 300, "small": 300, "full": 900}  # README: 5 minutes at the default scale, 15 at full


def recent_record(path: Path) -> dict[str, Any] | None:
    """The record at `path` if it is younger than RECENT_DAYS, with its age in hours."""
    if not path.is_file():
        return None
    age_hours = (time.time() - path.stat().st_mtime) / 3600
    if age_hours > RECENT_DAYS * 24:
        return None
    return {**json.loads(path.read_text()), "age_hours": round(age_hours, 1), "path": str(path)}


def run_workshop(scale: str) -> dict[str, Any]:
    """A fresh workshop run's record (its notebooks' progress lines go to stderr). It runs on a state directory
    of its own: its last notebook, 99_cleanup, deletes the state directory, which must not be the user's."""
    out = Path(tempfile.mkdtemp(prefix="fraudkit-bench-workshop-"))
    env = {**os.environ, "FRAUDKIT_STATE_DIR": str(out / "state")}
    subprocess.run([sys.executable, "-m", "fraudkit.workshop", "--scale", scale, "--out", str(out)],
                   stdout=sys.stderr, env=env, check=False)
    record = recent_record(out / "workshop.json")
    if record is None:
        raise SystemExit(f"the workshop wrote no record into {out}")
    return record


def report(record: dict[str, Any] | None, bench_scale: str) -> dict[str, Any]:
    if record is None:
        return {"name": "workshop", "results": [], "notes": (
            f"No record younger than {RECENT_DAYS} days at {RECORD.relative_to(ROOT)} and none made at scale tiny: "
            "run `make workshop` (or `make bench` at small or full scale) to measure the notebooks.")}
    notebooks = record["notebooks"]
    scale = record.get("scale", bench_scale)
    results = [result(f"{n['name']} ({n['status']})", float(n["seconds"]), "s", "report", None) for n in notebooks]
    total = sum(float(n["seconds"]) for n in notebooks)
    all_ok = all(n["status"] == "ok" for n in notebooks)
    results.append({**result(f"all notebooks, scale {scale}", total, "s",
                             f"<= {TARGET_SECONDS[scale]} s, every notebook ok", total <= TARGET_SECONDS[scale] and all_ok),
                    "headline": True})
    made = dt.datetime.fromtimestamp(Path(record["path"]).stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    notes = (f"From {record['path']} (written {made}, {record['age_hours']} h before this run; backend "
             f"{record.get('backend')}, scale {scale}, seed {record.get('seed')}). The record holds no load average "
             "or machine: the load shown is this benchmark's. No same-run baseline; the target is the README's.")
    return {"name": "workshop", "results": results, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=list(TARGET_SECONDS))
    parser.add_argument("--record", type=Path, default=RECORD, help="the workshop's run record (default: build/workshop.json)")
    args = parser.parse_args()
    record = recent_record(args.record)
    if record is None and args.scale != "tiny":
        log(f"no recent record at {args.record}: running the workshop at scale {args.scale}")
        record = run_workshop(args.scale)
    print(json.dumps(report(record, args.scale)))


if __name__ == "__main__":
    main()
