"""`storywire export` of a real run, read back with pyarrow and by the training commands' readers."""

import json

import pyarrow.dataset as ds
import pytest

from commands.cli import main
from taxonomy.mapping import load_mapping
from training.story_encoder import read_story_titles
from training.topics import SliceOptions, read_labelled

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def export(ab_run, tmp_path_factory):
    out, _, archive, mapping = ab_run
    target = tmp_path_factory.mktemp("export") / "a"
    assert (
        main(
            [
                "export",
                "--from",
                str(out / "a"),
                "--to",
                str(target),
                "--label-field",
                "event",
                "--topic-field",
                "category",
                "--topic-mapping",
                str(mapping),
                "--no-progress",
            ]
        )
        == 0
    )
    return out / "a", target, archive, mapping


def test_every_tag_and_story_record_is_exported_with_its_labels(export):
    run, target, archive, _ = export
    n = len(archive.read_text().splitlines())
    tags = ds.dataset(target / "tags", format="parquet", partitioning="hive").to_table()
    stories = ds.dataset(target / "stories", format="parquet", partitioning="hive").to_table()
    labels = ds.dataset(target / "labels", format="parquet").to_table()
    tag_lines = [json.loads(line) for line in (run / "tags.jsonl").read_text().splitlines()]
    assert tags.num_rows == len(tag_lines) and stories.num_rows == len((run / "stories.jsonl").read_text().splitlines())
    assert sorted(zip(tags["id"].to_pylist(), tags["version"].to_pylist())) == sorted((t["id"], t["version"]) for t in tag_lines)
    assert len({d for d in tags["day"].to_pylist()}) == len(list((target / "tags").glob("day=*")))  # partitioned by day
    assert labels.num_rows == n and set(labels["topic_code"].to_pylist()) == {"medtop:03000000", "medtop:15000000", "medtop:04000000", "medtop:07000000"}
    first = tags.to_pylist()[0]
    assert first["entities"] and {"text", "label", "canonical", "count", "in_title"} <= set(first["entities"][0])
    assert json.loads((target / "run.json").read_text())["export"]["tags"] == n


def test_training_reads_the_export_as_it_reads_the_archive(export):
    _, target, archive, mapping_path = export
    mapping = load_mapping(str(mapping_path))
    from_export = read_labelled(target, mapping, SliceOptions(label_field="category"))
    from_archive = read_labelled(archive, mapping, SliceOptions(label_field="category"))
    assert sorted(zip(from_export.texts, from_export.codes)) == sorted(zip(from_archive.texts, from_archive.codes))
    titles_export, _ = read_story_titles(target, SliceOptions(label_field="event"), None)
    titles_archive, _ = read_story_titles(archive, SliceOptions(label_field="event"), None)
    assert {k: sorted(v) for k, v in titles_export.items()} == {k: sorted(v) for k, v in titles_archive.items()}
    own_stories, _ = read_story_titles(target, SliceOptions(label_field="final_story_id"), None)  # the stream's own stories
    assert sum(map(len, own_stories.values())) > 0
