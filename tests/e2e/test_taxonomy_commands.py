"""`storywire taxonomy show|train|eval` on a tiny labelled file, with the real encoder."""

import json

import pytest

from commands.cli import main

HEADLINES = {
    "biz": [
        "Stocks fall as investors weigh Federal Reserve rate hike",
        "Bank profits beat forecasts in first quarter",
        "Oil prices climb on supply worries",
        "Retailer sales slump as consumers cut spending",
        "Company shares jump after merger deal",
        "Central bank holds interest rates steady",
    ],
    "sci": [
        "NASA probe sends back images of Jupiter moon",
        "New smartphone chip doubles battery life",
        "Scientists discover new species of deep-sea fish",
        "Software update fixes security flaw in browser",
        "Astronomers spot distant comet",
        "Startup unveils robot that folds laundry",
    ],
    "odd": ["Editors pick", "Read more"],
}


@pytest.fixture()
def labelled(tmp_path):
    path = tmp_path / "labelled.jsonl"
    rows = [{"headline": h, "blurb": "", "cat": cat, "date": f"2024-01-{1 + i % 6:02d}"} for cat, hs in HEADLINES.items() for i, h in enumerate(hs)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"mapping": {"biz": "medtop:04000000", "sci": "medtop:13000000", "odd": None}}))
    return path, mapping


def test_show_prints_a_subtree(capsys):
    assert main(["taxonomy", "show", "medtop:15000000", "--depth", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "medtop:15000000  sport" and all(line.startswith("  medtop:") for line in lines[1:]) and len(lines) > 3


@pytest.mark.slow
def test_train_then_eval_round_trip(labelled, tmp_path, capsys):
    path, mapping = labelled
    common = ["--input", str(path), "--label-field", "cat", "--mapping", str(mapping), "--title-field", "headline", "--text-field", "blurb"]
    model = tmp_path / "head.json"
    assert main(["taxonomy", "train", *common, "--out", str(model)]) == 0
    assert "left out 2 unmapped" in capsys.readouterr().out
    assert main(["taxonomy", "eval", *common, "--model", str(model), "--out", str(tmp_path / "head-eval")]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "accuracy: 1.000"  # it has seen these; the point is the round trip
    metrics = json.loads((tmp_path / "head-eval" / "metrics.json").read_text())
    assert set(metrics["per_class"]) == {"medtop:04000000", "medtop:13000000"} and metrics["skipped_unmapped"] == 2
    assert (tmp_path / "head-eval" / "confusion.png").stat().st_size > 5_000

    assert main(["taxonomy", "eval", *common, "--out", str(tmp_path / "zs"), "--date-field", "date", "--since", "2024-01-02"]) == 0
    zero_shot = json.loads((tmp_path / "zs" / "metrics.json").read_text())
    assert zero_shot["method"] == "zero-shot over 17 level-1 concepts" and zero_shot["n"] == 10
    assert zero_shot["accuracy"] >= 0.6


def test_unknown_codes_in_a_mapping_are_refused(labelled, tmp_path, capsys):
    path, _ = labelled
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"mapping": {"biz": "medtop:99999999"}}))
    assert main(["taxonomy", "eval", "--input", str(path), "--label-field", "cat", "--mapping", str(bad)]) == 1
    assert "medtop:99999999" in capsys.readouterr().err


@pytest.mark.slow
def test_a_head_fine_tuned_with_its_encoder_round_trips_into_the_flow(labelled, tmp_path, capsys):
    from flows.config import ModelsConfig, TopicsConfig
    from flows.enrich import Enricher
    from flows.schema import Article

    path, mapping = labelled
    common = ["--input", str(path), "--label-field", "cat", "--mapping", str(mapping), "--title-field", "headline"]
    model = tmp_path / "models" / "head.json"
    assert main(["taxonomy", "train", *common, "--finetune-epochs", "8", "--learning-rate", "2e-4", "--out", str(model)]) == 0
    assert (tmp_path / "models" / "head.encoder" / "config.json").exists()
    assert main(["taxonomy", "eval", *common, "--model", str(model), "--out", str(tmp_path / "eval")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "accuracy: 1.000"  # seen data: the point is the round trip

    enricher = Enricher.from_config(ModelsConfig(), TopicsConfig(head=str(model), rules=False))
    headlines = [HEADLINES["biz"][0], HEADLINES["sci"][0]]
    articles = [Article(str(i), h, published_at=0.0, received_at=0.0, origin="test", position=i) for i, h in enumerate(headlines)]
    codes = [[t.code for t in e.topics] for e in enricher.enrich(articles)]
    assert codes == [["medtop:04000000"], ["medtop:13000000"]]
    assert enricher.versions()["topics"].startswith("head:head")

    (tmp_path / "models" / "head.encoder").rename(tmp_path / "elsewhere")
    assert main(["taxonomy", "eval", *common, "--model", str(model)]) == 1
    assert "keep the head's .encoder folder beside it" in capsys.readouterr().err
