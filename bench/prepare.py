"""Prepare the state every benchmark of one `bench/run.py` run shares, once, before the first of them.

    python bench/prepare.py --scale tiny|small|full --state-dir DIR

Into DIR (what the modules get as FRAUDKIT_STATE_DIR): the card and Handbook data sets at the scale and
their features (the models' input), and, for the streaming modules, the card data and the trained card
model at their data scale (`common.streaming_scale`). Each step is the kit's own
`ensure_*`, so what is there already is kept (a second run reuses the first run's data and model; delete
DIR to start over), and a module run on its own (`run.py --only NAME`) still prepares what it finds
missing. Services are not started here: the streaming modules start them (and bench_streaming_cold stops
them first, on purpose), and run.py stops them after the last module.

Prints progress on stderr and, as the last line of stdout, one JSON object: the seconds of each step.
XGBoost's OpenMP threads wait passively here (OMP_WAIT_POLICY=passive, unless set): training the card model
is preparation, not a figure, and spinning threads slowed it 2-4 times on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import streaming_scale
from fraudkit.config import SCALES, Settings
from fraudkit.features.store import ensure_features

from data_gen import ensure_dataset


def prepare(scale: str, state_dir: Path) -> dict[str, float]:
    # before XGBoost is loaded (by this import), and with it OpenMP, which reads the policy once
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    from fraudkit.model.serving import ensure_card_model

    steps: dict[str, float] = {}

    def step(name: str, action: Callable[..., object], *args: object) -> None:
        started = time.perf_counter()
        action(*args)
        steps[name] = round(time.perf_counter() - started, 2)
        print(f"prepare: {name} {steps[name]:.1f} s", file=sys.stderr, flush=True)

    settings = Settings.load(scale=scale, state_dir=state_dir)
    for kind in ("cards", "handbook"):
        step(f"{kind} data ({scale})", ensure_dataset, kind, settings)
        step(f"{kind} features ({scale})", ensure_features, kind, settings)
    streaming = settings.replace(scale=streaming_scale(scale))
    step(f"card data ({streaming.scale})", ensure_dataset, "cards", streaming)
    step(f"card model ({streaming.scale})", ensure_card_model, streaming)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full", choices=list(SCALES))
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(prepare(args.scale, args.state_dir.resolve())))


if __name__ == "__main__":
    main()
