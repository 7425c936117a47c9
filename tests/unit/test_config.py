from pathlib import Path

import pytest
from fraudkit.config import SCALES, Settings, SettingsError


def test_defaults_are_the_local_small_workshop(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FRAUDKIT_BACKEND", "FRAUDKIT_SCALE", "FRAUDKIT_SEED", "FRAUDKIT_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.load()
    assert (s.backend, s.scale, s.seed, s.state_dir) == ("local", "small", 42, Path(".fraudkit"))


def test_environment_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDKIT_SCALE", "tiny")
    monkeypatch.setenv("FRAUDKIT_SEED", "7")
    assert Settings.load().scale == "tiny"
    assert Settings.load().seed == 7
    # papermill passes None for "not given": the environment still applies
    assert Settings.load(scale=None).scale == "tiny"
    assert Settings.load(scale="full").scale == "full"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [({"backend": "gcp"}, "backend"), ({"scale": "huge"}, "scale"), ({"seed": -1}, "seed"), ({"colour": 1}, "colour")],
)
def test_bad_settings_name_the_setting(overrides: dict, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.load(**overrides)


def test_bad_integer_in_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDKIT_SEED", "forty-two")
    with pytest.raises(SettingsError, match="FRAUDKIT_SEED"):
        Settings.load()


def test_scale_presets_grow() -> None:
    tiny, small, full = SCALES["tiny"], SCALES["small"], SCALES["full"]
    assert tiny.card_transactions < small.card_transactions < full.card_transactions == 5_400_000
    assert (full.cards, full.customers, full.terminals, full.days) == (10_000, 5_000, 10_000, 183)


def test_local_endpoint_env_points_every_service_at_the_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDKIT_EMULATOR_URL", raising=False)
    # a state dir of its own: an emulator running in the default one would be found first
    env = Settings.load(backend="local", emulator_port=4999, state_dir=tmp_path).endpoint_env()
    assert env["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://127.0.0.1:4999"
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME"] == "http://127.0.0.1:4999"
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:4999"
    assert Settings.load(backend="aws").endpoint_env() == {}


def test_state_paths_live_under_state_dir(tmp_path: Path) -> None:
    s = Settings.load(state_dir=tmp_path, scale="tiny")
    for p in (s.data_dir, s.model_dir, s.emulator_dir, s.broker_dir):
        assert tmp_path in p.parents
