"""The dataflow's operators hand on typed streams: decode's oks are articles and its errs dead letters with the
record's reason, route's three streams each hold one output's records (bytewax.testing, no models)."""

from __future__ import annotations

import json

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from flows.cluster_step import DEAD, STORIES, TAGS, OutputRecord
from flows.config import RunConfig
from flows.dataflow import decode_records, route_outputs
from flows.schema import Article, DeadLetter, RawRecord


def test_decode_splits_articles_from_dead_letters():
    good = json.dumps({"id": "a1", "title": "Quake hits coast", "published_at": "2026-01-02T03:04:05Z"}).encode()
    records = [RawRecord(good, "file:t", 1, 1.8e9), RawRecord(b"{not json", "file:t", 2, 1.8e9), RawRecord(b'{"title": "no id"}', "file:t", 3, 1.8e9)]
    oks: list = []
    errs: list = []
    flow = Dataflow("decode_test")
    decoded = decode_records("decode", op.input("in", flow, TestingSource(records)), RunConfig.load())
    op.output("oks", decoded.oks, TestingSink(oks))
    op.output("errs", decoded.errs, TestingSink(errs))
    run_main(flow)

    assert [type(a) for a in oks] == [Article] and oks[0].id == "a1"
    assert [type(d) for d in errs] == [DeadLetter, DeadLetter]
    assert [d.position for d in errs] == [2, 3]
    assert all(d.reason for d in errs)


def test_route_sends_each_record_to_its_output():
    records = [OutputRecord(TAGS, "a1", {}), OutputRecord(STORIES, "s1", {}), OutputRecord(DEAD, "x", {}), OutputRecord(STORIES, "s2", None)]
    tags: list = []
    stories: list = []
    dead: list = []
    flow = Dataflow("route_test")
    routed = route_outputs("route", op.input("in", flow, TestingSource(records)))
    op.output("tags", routed.tags, TestingSink(tags))
    op.output("stories", routed.stories, TestingSink(stories))
    op.output("dead", routed.dead_letters, TestingSink(dead))
    run_main(flow)

    assert [r.key for r in tags] == ["a1"]
    assert [r.key for r in stories] == ["s1", "s2"]
    assert [r.key for r in dead] == ["x"]
