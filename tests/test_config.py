"""Configs are data, validated on load: bad input is rejected with the key, the value and what is allowed."""

import pytest

import sim
from sim.inputs.base import ConfigError
from sim.inputs.config import config_from_dict, load_config, load_schema


def test_baseline_loads_with_status_quo_defaults():
    cfg = load_config()
    assert cfg.quarters == 40 and cfg.start == (2025, 1)
    assert cfg.changed() == {}  # the baseline is the status quo: no parameter differs from its default


def test_every_parameter_has_unit_range_source_and_labels():
    schema = load_schema()
    assert len([p for p in schema.values() if p.kind == "levers"]) >= 13
    for p in schema.values():
        assert p.low <= p.default <= p.high, p.name
        assert p.unit and p.source and p.label_en and p.label_zh, p.name
        if p.kind == "uncertainties":
            assert p.low < p.high, f"{p.name}: an assumption must have a range to sweep"
        if p.kind == "levers":
            assert p.group in sim.inputs.config.LEVER_GROUPS


def test_every_remedy_group_has_levers():
    cfg = load_config()
    groups = {cfg.schema[n].group for n in cfg.names("levers")}
    assert groups == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        ({"levers": {"rd_subsidy": 0.1}}, ["'rd_subsidy'", "rd_subsidy_rate", "Allowed"]),
        ({"levers": {"rd_subsidy_rate": 0.9}}, ["rd_subsidy_rate", "0.9", "[0.0, 0.3]"]),
        ({"levers": {"rd_subsidy_rate": "high"}}, ["rd_subsidy_rate", "'high'", "not a number"]),
        ({"uncertainties": {"rd_subsidy_rate": 0.1}}, ["[uncertainties]", "'rd_subsidy_rate'"]),
        ({"scenaro": {}}, ["[scenaro]", "scenario"]),
        ({"scenario": {"quarters": 0}}, ["quarters", "0", "1-400"]),
        ({"scenario": {"start": "2025-1"}}, ["start", "2025Q1"]),
        ({"scenario": {"persons_per_agnt": 5}}, ["persons_per_agnt", "persons_per_agent"]),
        ({"scenario": {"map": "map/nowhere.txt"}}, ["map", "nowhere", "map/qinhuangdao_2km.txt"]),
        # a path out of configs/ is refused even where a file exists there (no user-chosen file is read)
        ({"scenario": {"map": "../pyproject.toml"}}, ["map", "../pyproject.toml", "allowed"]),
        ({"scenario": {"map": "/etc/hostname"}}, ["map", "/etc/hostname", "allowed"]),
        ({"scenario": {"map": "map/../map/qinhuangdao_2km.txt"}}, ["map", "allowed"]),
    ],
)
def test_bad_config_is_rejected_naming_the_key(data, fragments):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_bad_config_file_is_rejected(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[levers]\ndigital_grant_budgt = 1.0\n")
    with pytest.raises(ConfigError, match="digital_grant_budgt.*digital_grant_budget"):
        load_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[levers\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_overrides_are_validated_and_do_not_mutate():
    cfg = load_config()
    new = cfg.with_overrides({"city_coordination": 0.9}, quarters=8)
    assert new["city_coordination"] == 0.9 and new.quarters == 8
    assert cfg["city_coordination"] == 0.1 and cfg.quarters == 40
    assert new.digest() != cfg.digest()
    with pytest.raises(ConfigError, match="unknown parameter 'coordination'"):
        cfg.with_overrides({"coordination": 0.5})


def test_presets_cover_each_remedy_group_and_all_five():
    presets = sim.load_presets()
    cfg = load_config()
    assert list(presets)[0] == "status_quo" and presets["status_quo"].levers == {}
    groups_seen = set()
    for key in ("coordinate", "cultivate", "extend_chain", "digital", "factors"):
        groups_seen |= {cfg.schema[n].group for n in presets[key].levers}
    assert groups_seen == {1, 2, 3, 4, 5}
    union = {}
    for key in ("coordinate", "cultivate", "extend_chain", "digital", "factors"):
        union.update(presets[key].levers)
    assert presets["all_five"].levers == union


def test_numpy_numbers_are_accepted_and_integers_checked():
    """EMA Workbench passes numpy scalars (IntegerParameter -> np.int64): any real number type is a number."""
    import numpy as np

    cfg = sim.load_config().with_overrides({"retirement_age": np.int64(60), "beta_wage": np.float32(2.5),
                                            "training_quarters": np.int32(5)})
    assert cfg["retirement_age"] == 60.0 and cfg["beta_wage"] == 2.5 and cfg["training_quarters"] == 5
    assert isinstance(cfg["training_quarters"], int)
    with pytest.raises(sim.ConfigError, match="not a number"):
        sim.load_config().with_overrides({"beta_wage": np.bool_(True)})
    with pytest.raises(sim.ConfigError, match="whole number"):
        sim.load_config().with_overrides({"training_quarters": 4.5})
