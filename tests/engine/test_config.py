"""Config: defaults, validation that lists every problem, TOML round trip, suggestions."""

import dataclasses

import pytest

from ptycho_engine.core.config import (
    LEGACY_DEFAULTS,
    PtychoConfig,
    config_to_toml,
    field_info,
    field_infos,
    from_dict,
    load_config,
    parse_assignment,
    save_config,
    to_dict,
    validate,
    with_overrides,
)
from ptycho_engine.core.errors import ConfigError

REQUIRED_KEYS = [
    "data.N", "data.gridsize", "data.neighbor_count", "data.n_groups", "data.nphotons",
    "model.n_filters_scale", "model.object_big", "model.probe_big", "model.pad_object",
    "model.amp_activation", "model.probe_scale", "training.batch_size", "training.epochs",
    "training.learning_rate", "training.nll_weight", "training.mae_weight", "training.seed",
    "training.device", "training.precision",
]


def test_reference_defaults():
    config = PtychoConfig()
    assert validate(config) == []
    # what the quality suite supports (README, "Quality"), not PtychoPINN's defaults
    assert (config.data.N, config.data.gridsize, config.data.neighbor_count) == (64, 3, 8)
    assert config.data.n_groups == 0
    assert config.model.amp_activation == "sigmoid" and config.model.phase_activation == "linear"
    assert (config.model.refine_steps, config.inference.refine_steps) == (8, 100)
    assert config.inference.groups == "covering" and config.inference.align_phase
    assert config.model.probe_scale == 4.0 and config.model.object_big and config.model.probe_big
    assert config.training.batch_size == 16
    assert config.training.learning_rate == 2e-3
    assert (config.training.nll_weight, config.training.mae_weight) == (1.0, 0.0)


def test_default_budget_is_a_time_limit_with_a_large_epoch_cap():
    """Where we differ from the reference (50 epochs): the default path (Train with no preset,
    `train --time-limit 10`) is ended by its 10-minute budget, the epochs only cap it, and
    the learning rate anneals over the last 30 % of it."""
    training = PtychoConfig().training
    assert training.time_limit_min == 10.0 and training.epochs == 10_000
    assert training.lr_decay_fraction == 0.3
    assert "cap" in field_info("training.epochs").help
    info = field_info("training.time_limit_min")
    assert info.unit == "min" and "0 sets no time limit" in info.help


def test_time_limit_must_not_be_negative():
    assert with_overrides(PtychoConfig(), {"training.time_limit_min": 0}).training.time_limit_min \
        == 0.0
    assert with_overrides(PtychoConfig(), {"training.time_limit_min": "2.5"}).training \
        .time_limit_min == 2.5
    with pytest.raises(ConfigError) as caught:
        with_overrides(PtychoConfig(), {"training.time_limit_min": -1})
    assert [key for key, _ in caught.value.problems] == ["training.time_limit_min"]
    assert "out of range" in caught.value.problems[0][1]


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_required_keys_have_metadata(key):
    info = field_info(key)
    assert info.help and info.describe_range()


def test_every_field_has_help_and_range():
    for info in field_infos():
        assert len(info.help) > 10, info.key
        if info.type in (int, float) and info.choices is None:
            assert info.low is not None and info.high is not None, info.key


def test_validation_reports_every_bad_field_at_once():
    with pytest.raises(ConfigError) as caught:
        with_overrides(PtychoConfig(), {"data.gridsize": 9, "training.batch_size": 12,
                                        "training.learning_rate": -1.0,
                                        "model.amp_activation": "tanh"})
    fields = [field for field, _ in caught.value.problems]
    assert fields == ["data.gridsize", "model.amp_activation", "training.batch_size",
                      "training.learning_rate"]
    text = str(caught.value)
    assert "[1, 4]" in text and "power of 2" in text and "'sigmoid'" in text


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError) as caught:
        with_overrides(PtychoConfig(), {"training.epoch": 3})
    assert "did you mean 'training.epochs'" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        from_dict({"trainig": {"epochs": 3}})
    assert "training" in str(caught.value)


def test_cross_field_rules():
    problems = validate(dataclasses.replace(
        PtychoConfig(), data=dataclasses.replace(PtychoConfig().data, gridsize=3,
                                                 neighbor_count=4)))
    assert problems and problems[0][0] == "data.neighbor_count" and "8" in problems[0][1]


def test_type_errors_are_named():
    with pytest.raises(ConfigError) as caught:
        with_overrides(PtychoConfig(), {"training.epochs": "many", "model.object_big": "maybe"})
    assert [f for f, _ in caught.value.problems] == ["training.epochs", "model.object_big"]


def test_toml_round_trip(tmp_path):
    config = with_overrides(PtychoConfig(), {
        "data.gridsize": 2, "training.epochs": 7, "training.learning_rate": 3e-4,
        "model.probe_mask": True, "training.precision": "bf16-mixed", "data.nphotons": 1e6})
    path = tmp_path / "run.toml"
    save_config(config, path)
    assert load_config(path) == config
    text = path.read_text()
    for section in ("[data]", "[model]", "[training]", "[inference]"):
        assert section in text
    assert to_dict(from_dict(to_dict(config))) == to_dict(config)


def test_stored_toml_without_the_refinement_keys_reads_as_the_legacy_model(tmp_path):
    """A run folder's config.toml written before refinement existed: load_config(stored=True)
    gives its keys their LEGACY_DEFAULTS; a user's own file takes today's defaults."""
    text = config_to_toml(PtychoConfig())
    names = tuple(f"{key.split('.')[1]} =" for key in LEGACY_DEFAULTS)
    kept = [line for line in text.splitlines() if not line.startswith(names)]
    assert len(kept) == len(text.splitlines()) - len(LEGACY_DEFAULTS)
    path = tmp_path / "config.toml"
    path.write_text("\n".join(kept) + "\n")
    old = load_config(path, stored=True)
    assert (old.model.refine_steps, old.inference.refine_steps) == (0, 0)
    assert old.model.phase_activation == "pi_tanh"
    assert old == with_overrides(PtychoConfig(), LEGACY_DEFAULTS)
    assert load_config(path) == PtychoConfig()  # not stored: today's defaults
    save_config(PtychoConfig(), path)
    assert load_config(path, stored=True) == PtychoConfig()  # complete: taken as written


def test_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training\nepochs = 3")
    with pytest.raises(ConfigError, match="bad.toml.*not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="missing.toml.*not found"):
        load_config(tmp_path / "missing.toml")
    out_of_range = tmp_path / "range.toml"
    out_of_range.write_text("[training]\nbatch_size = 3\n")
    with pytest.raises(ConfigError, match="range.toml.*training.batch_size"):
        load_config(out_of_range)


def test_cli_assignment_parsing():
    assert parse_assignment("training.epochs=5") == ("training.epochs", "5")
    with pytest.raises(ConfigError):
        parse_assignment("training.epochs")
    config = with_overrides(PtychoConfig(), dict([parse_assignment("model.object_big=false")]))
    assert config.model.object_big is False


def test_toml_text_carries_help():
    assert "# Adam learning rate." in config_to_toml(PtychoConfig())
