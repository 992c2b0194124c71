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
        ({"STORYWIRE_MODELS__DEVICE": "gpu"}, "models.device = 'gpu': use auto, cpu, cuda or cuda:N"),
        ({"STORYWIRE_MODELS__STATIC_MODEL": "/no/such/model"}, "holds no static model: build one with `storywire encoder distill-static"),
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


def test_the_kafka_password_is_a_secret_from_the_environment_or_a_file(tmp_path):
    from flows.config import Secret

    config = RunConfig.load(env={"STORYWIRE_KAFKA__PASSWORD": "hunter2", "STORYWIRE_KAFKA__CLIENT": "sasl.username=u"})
    assert config.kafka.password == Secret("hunter2") and "hunter2" not in repr(config) and "hunter2" not in str(config.kafka)
    assert config.kafka.client_config()["sasl.password"] == "hunter2"
    secret_file = tmp_path / "password"
    secret_file.write_text("s3cret\n")
    from_file = RunConfig().with_values({"kafka": {"password_file": str(secret_file)}})
    assert from_file.kafka.client_config()["sasl.password"] == "s3cret"
    with pytest.raises(ConfigError, match="must not hold sasl.password") as error:
        RunConfig().with_values({"kafka": {"client": "sasl.password=p4ss"}})
    assert "p4ss" not in str(error.value)
    with pytest.raises(ConfigError, match="kafka.password_file .*: No such file"):
        RunConfig().with_values({"kafka": {"password_file": str(tmp_path / "missing")}})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-i", "0"], "-i/--process-id and -a/--addresses go together"),
        (["-a", "localhost:2101;localhost:2102"], "-i/--process-id and -a/--addresses go together"),
        (["-i", "2", "-a", "localhost:2101;localhost:2102"], "-a lists 2 processes, so use 0 to 1"),
        (["-w", "0"], "use 1 or more workers"),
    ],
)
def test_bad_scale_options_stop_with_a_fix(argv, message, capsys):
    from flows.cli import main

    assert main(["replay", "demo", "--out", "/nonexistent/never-written", *argv]) == 2
    assert message in capsys.readouterr().err
