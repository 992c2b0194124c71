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
        ({"STORYWIRE_BATCH__MAX_SIZE": "many"}, "batch.max_size = 'many': expected an integer"),
        ({"STORYWIRE_BATCH__MAX_SIZE": "0"}, "batch.max_size = '0': must be at least 1"),
        ({"STORYWIRE_SOURCE__DAYS": "1.5"}, r"source.days = '1.5': expected an integer"),
        ({"STORYWIRE_CLUSTERING__TIME_FLOOR": "1.5"}, r"clustering.time_floor = '1.5': must be at most 1"),
        ({"STORYWIRE_CLUSTERING__RECLUSTER_MODE": "sometimes"}, "clustering.recluster_mode = 'sometimes': use one of auto, inline, live, replay"),
        ({"STORYWIRE_TOPICS__LEVELS": "1,0"}, "topics.levels = '0': must be at least 1"),
        ({"STORYWIRE_SOURCE__FORMAT": "csv"}, "source.format = 'csv': use one of jsonl, uci"),
        ({"STORYWIRE_SOURCE__PATH": "/no/such/file.jsonl"}, "does not exist"),
        ({"STORYWIRE_MODELS__DEVICE": "gpu"}, "models.device = 'gpu': use auto, cpu, cuda or cuda:N"),
        ({"STORYWIRE_MODELS__STATIC_MODEL": "/no/such/model"}, "holds no static model: build one with `storywire encoder distill-static"),
    ],
)
def test_bad_configuration_stops_with_a_fix(env, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.load(env=env)


def test_a_misspelt_key_in_the_file_is_refused_naming_the_valid_keys(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[batch]\nmax_sise = 10\n")
    with pytest.raises(ConfigError, match="unknown setting batch.max_sise; valid settings: max_size, timeout_ms$"):
        RunConfig.load(path, env={})
    path.write_text("[clustring]\nthreshold = 1\n")
    with pytest.raises(ConfigError, match=r"unknown config section \[clustring\]; valid sections: source, output, kafka"):
        RunConfig.load(path, env={})


def test_a_float_for_an_integer_setting_is_refused_not_rounded(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[batch]\nmax_size = 1.5\n")
    with pytest.raises(ConfigError, match=r"batch.max_size = 1.5: expected an integer \(no fraction\)"):
        RunConfig.load(path, env={})
    with pytest.raises(ConfigError, match="expected an integer"):
        RunConfig().with_values({"clustering": {"recluster_every": 2000.5}})
    assert RunConfig().with_values({"batch": {"max_size": 32.0}}).batch.max_size == 32  # a whole float is that integer


def test_environment_overrides_nest_by_double_underscore_in_any_case():
    config = RunConfig.load(
        env={
            "STORYWIRE_LIMITS__MAX_BODY_CHARS": "500",  # single underscores stay inside the key
            "storywire_models__languages": "en, de",  # lists are comma-separated ...
            "STORYWIRE_TOPICS__LEVELS": "[1]",  # ... or JSON
            "STORYWIRE_SOURCE__PROGRESS": "no",
            "STORYWIRE_MODELS__TORCH_THREADS": "none",  # clears an optional setting
            "STORYWIRE_OTHER": "ignored: no section",
        }
    )
    assert config.limits.max_body_chars == 500 and config.models.languages == ("en", "de") and config.topics.levels == (1,)
    assert config.source.progress is False and config.models.torch_threads is None
    assert RunConfig.load(env={}) == RunConfig()  # nothing set: the defaults


def test_the_environment_wins_over_the_file_key_by_key(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[batch]\nmax_size = 10\ntimeout_ms = 7\n")
    config = RunConfig.load(path, env={"STORYWIRE_BATCH__MAX_SIZE": "20"})
    assert (config.batch.max_size, config.batch.timeout_ms) == (20, 7)


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
    from pydantic import SecretStr

    config = RunConfig.load(env={"STORYWIRE_KAFKA__PASSWORD": "hunter2", "STORYWIRE_KAFKA__CLIENT": "sasl.username=u"})
    assert isinstance(config.kafka.password, SecretStr) and config.kafka.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(config) and "hunter2" not in str(config.kafka) and "hunter2" not in config.model_dump_json()
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


def test_the_password_never_shows_in_errors_or_logs(caplog):
    import logging

    with pytest.raises(ConfigError) as error:  # the password is valid; another setting is not
        RunConfig.load(env={"STORYWIRE_KAFKA__PASSWORD": "hunter2", "STORYWIRE_KAFKA__PARTITIONS": "0"})
    assert "hunter2" not in str(error.value) and error.value.__cause__ is None and error.value.__context__ is None
    with pytest.raises(ConfigError) as error:  # a password of the wrong type is named, not shown
        RunConfig().with_values({"kafka": {"password": 12345678}})
    assert "kafka.password" in str(error.value) and "12345678" not in str(error.value)
    config = RunConfig.load(env={"STORYWIRE_KAFKA__PASSWORD": "hunter2", "STORYWIRE_SOURCE__KIND": "kafka", "STORYWIRE_OUTPUT__KIND": "kafka"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("storywire.test").warning("config: %s / %r / %s", config, config.kafka, config.kafka.password)
    assert "hunter2" not in caplog.text and "**********" in caplog.text


def test_the_password_is_not_in_the_lifecycle_log_nor_in_the_metrics():
    from prometheus_client import REGISTRY, generate_latest

    from flows import monitoring
    from flows.runner import _describe

    config = RunConfig.load(env={"STORYWIRE_KAFKA__PASSWORD": "hunter2", "STORYWIRE_SOURCE__KIND": "kafka", "STORYWIRE_OUTPUT__KIND": "kafka"})
    described = _describe(config, "source") + _describe(config, "output")
    m = config.metrics
    monitoring.configure_health(m.stall_after_s, m.max_dead_letter_ratio, m.dead_letter_min_records)
    assert "localhost:9092" in described and "hunter2" not in described and b"hunter2" not in generate_latest(REGISTRY)


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
    from commands.cli import main

    assert main(["replay", "demo", "--out", "/nonexistent/never-written", *argv]) == 2
    assert message in capsys.readouterr().err
