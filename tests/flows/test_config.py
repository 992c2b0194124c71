import pytest

from flows.config import ConfigError, RunConfig


def test_toml_then_environment_override(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[clustering]\nthreshold = 0.6\n[source]\npath = "demo"\nlimit = 10\n')
    config = RunConfig.load(path, env={"STORYWIRE_CLUSTERING__THRESHOLD": "0.55", "STORYWIRE_TOPICS__LEVELS": "1"})
    assert config.clustering.threshold == 0.55
    assert config.source.limit == 10
    assert config.topics.levels == (1,)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"STORYWIRE_CLUSTERING__TRESHOLD": "1"}, "unknown setting clustering.treshold; valid settings: .*threshold"),
        ({"STORYWIRE_NOPE__X": "1"}, r"unknown config section \[nope\]"),
        ({"STORYWIRE_BATCH__MAX_SIZE": "many"}, "batch.max_size = 'many': expected int"),
        ({"STORYWIRE_BATCH__MAX_SIZE": "0"}, "batch.max_size must be at least 1"),
        ({"STORYWIRE_SOURCE__FORMAT": "csv"}, "source.format = 'csv': use one of jsonl, uci"),
        ({"STORYWIRE_SOURCE__PATH": "/no/such/file.jsonl"}, "does not exist"),
    ],
)
def test_bad_configuration_stops_with_a_fix(env, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.load(env=env)


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[source\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        RunConfig.load(bad)


def test_the_clusterer_and_the_run_config_share_their_tuned_defaults():
    import inspect

    from clustering import OnlineStoryClusterer
    from flows.config import ClusteringConfig

    estimator = {name: p.default for name, p in inspect.signature(OnlineStoryClusterer).parameters.items()}
    config = vars(ClusteringConfig())
    shared = set(estimator) & set(config) - {"recluster_mode"}  # "auto" is resolved by the flow, not the estimator
    assert len(shared) >= 10
    assert {name: config[name] for name in shared} == {name: estimator[name] for name in shared}
