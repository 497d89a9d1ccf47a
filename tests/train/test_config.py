"""Config validation: one test per error class, overrides, and the TOML round trip."""

import pytest

from contrastkit import losses
from contrastkit.recipes import build_components, load_recipe, recipe_names
from contrastkit.train.config import ConfigError, apply_overrides, parse_override, parse_toml, validate_config
from contrastkit.train.toml_writer import dumps_toml


def test_defaults_validate():
    config = validate_config({})
    assert config.train.batch_size == 256 and config.loss.name == "NTXent"


def test_unknown_key_in_a_section_is_named():
    with pytest.raises(ConfigError, match=r"train\.bach_size: unknown key"):
        validate_config({"train": {"bach_size": 3}})


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"trian: unknown key"):
        validate_config({"trian": {}})


def test_unknown_component_key_is_named_with_the_accepted_ones():
    config, _ = load_recipe("simclr-digits", ["loss.temprature=0.1"])
    with pytest.raises(ConfigError, match=r"loss\.temprature = 0\.1: unknown key for NTXent.*'temperature'"):
        build_components(config)


def test_unknown_component_name():
    config, _ = load_recipe("simclr-digits", ["encoder.name='resnet9000'"])
    with pytest.raises(ConfigError, match=r"encoder\.name = 'resnet9000': unknown; expected one of"):
        build_components(config)
    config, _ = load_recipe("simclr-digits", ["loss.name='NoSuchLoss'"])
    with pytest.raises(ConfigError, match=r"loss\.name = 'NoSuchLoss': not a loss"):
        build_components(config)


def test_wrong_type_names_key_value_and_expectation():
    with pytest.raises(ConfigError, match=r"optim\.lr = 'fast': Input should be a valid number"):
        validate_config({"optim": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"train\.batch_size = 32\.5: Input should be a valid integer"):
        validate_config({"train": {"batch_size": 32.5}})


def test_negative_batch_size():
    with pytest.raises(ConfigError, match=r"train\.batch_size = -3: Input should be greater than 0"):
        validate_config({"train": {"batch_size": -3}})


@pytest.mark.parametrize("value", [0, -0.5])
def test_temperature_not_positive(value):
    config, _ = load_recipe("simclr-digits", [f"loss.temperature={value}"])
    with pytest.raises(ConfigError, match=r"loss\.temperature = -?0(\.5)?: expected a finite value > 0"):
        build_components(config)


def test_missing_data_path(tmp_path):
    missing = tmp_path / "nope.gz"
    with pytest.raises(ConfigError, match=r"data\.path = '.*nope\.gz': expected an existing file"):
        validate_config({"data": {"name": "idx", "path": str(missing)}})
    config = validate_config({"data": {"name": "idx", "path": str(tmp_path), "labels_path": str(missing)}})
    from contrastkit.recipes import load_data

    with pytest.raises(ConfigError, match=r"data\.labels_path = .*does not exist"):
        load_data(config)


def test_required_component_key_missing():
    config, _ = load_recipe("simclr-fashion-mnist")
    from contrastkit.recipes import load_data

    with pytest.raises(ConfigError, match=r"data\.path: required key is missing"):
        load_data(config)


def test_out_of_range_and_choice_values():
    with pytest.raises(ConfigError, match=r"data\.test_fraction = 1\.5"):
        validate_config({"data": {"test_fraction": 1.5}})
    with pytest.raises(ConfigError, match=r"run\.device = 'gpu': expected 'auto', 'cpu'"):
        validate_config({"run": {"device": "gpu"}})
    with pytest.raises(
        ConfigError, match=r"optim\.schedule = 'linear': Input should be 'cosine' or 'constant'"
    ):
        validate_config({"optim": {"schedule": "linear"}})


def test_early_stop_needs_a_metric():
    with pytest.raises(ConfigError, match=r"early_stop_patience needs train\.best_metric"):
        validate_config({"train": {"early_stop_patience": 2}})


def test_scale_options_validate_and_moco_needs_a_loss_with_negatives():
    with pytest.raises(ConfigError, match=r"scale\.queue_size = 0: Input should be greater than 0"):
        validate_config({"scale": {"queue_size": 0}})
    config, _ = load_recipe("simclr-digits", ["scale.queue_size=4096"])
    with pytest.raises(ConfigError, match=r"scale\.queue_size = 4096: MoCo needs a loss taking"):
        build_components(config)


def test_bad_toml_and_bad_override():
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_toml("[train\nbatch_size = 3")
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        parse_override("batch_size=3")
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"train": {"batch_size": 3}}, ["train.batch_size.x=1"])


def test_overrides_parse_toml_values_and_fall_back_to_strings():
    data = apply_overrides(
        {},
        [
            "train.batch_size=64",
            "optim.lr=1e-3",
            "views.crop_scale=[0.2, 1.0]",
            "run.name=my-run",
            "train.report=false",
        ],
    )
    assert data == {
        "train": {"batch_size": 64, "report": False},
        "optim": {"lr": 1e-3},
        "views": {"crop_scale": [0.2, 1.0]},
        "run": {"name": "my-run"},
    }
    config, name = load_recipe("simclr-digits", ["train.batch_size=64", "run.name=custom"])
    assert config.train.batch_size == 64 and name == "custom"


@pytest.mark.parametrize("name", recipe_names())
def test_every_bundled_recipe_validates_and_builds(name):
    config, _ = load_recipe(name)
    if not hasattr(losses, config.loss.name):
        pytest.skip(f"{config.loss.name} is not in contrastkit.losses on this branch yet")
    parts = build_components(config)
    assert parts.loss is not None and callable(parts.views)
    assert config.run.description  # shown by `contrastkit recipes`


def test_resolved_config_round_trips_through_toml():
    config, _ = load_recipe("simclr-digits", ["train.batch_size=64"])
    again = validate_config(parse_toml(dumps_toml(config.model_dump(mode="json"))))
    assert again == config
