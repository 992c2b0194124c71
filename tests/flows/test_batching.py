import time
from datetime import datetime, timedelta, timezone

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.testing import TestingSink, run_main

from flows.batching import MicroBatchLogic, micro_batch


def test_the_timeout_runs_from_the_first_item_of_a_batch():
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    logic = MicroBatchLogic(timedelta(milliseconds=50), max_size=64, clock=lambda: now[0])
    for _ in range(3):
        logic.on_item("article")
        now[0] += timedelta(milliseconds=40)  # a steady stream, faster than the timeout
    assert logic.notify_at() == datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=50)
    assert logic.on_notify() == ([["article"] * 3], MicroBatchLogic.DISCARD)


def test_a_full_batch_closes_at_once():
    logic = MicroBatchLogic(timedelta(seconds=10), max_size=2)
    assert logic.on_item(1) == ([], MicroBatchLogic.RETAIN)
    assert logic.on_item(2) == ([[1, 2]], MicroBatchLogic.DISCARD)


class _Trickle(StatelessSourcePartition):
    """One item every 15 ms: never idle for a 60 ms timeout."""

    def __init__(self, n: int) -> None:
        self.left = n

    def next_batch(self):
        if not self.left:
            raise StopIteration
        time.sleep(0.015)
        self.left -= 1
        return [("key", self.left)]


class TrickleSource(DynamicSource):
    def build(self, step_id, worker_index, worker_count):
        return _Trickle(30)


def test_a_steady_stream_gets_batches_closed_by_time_not_only_by_size():
    flow = Dataflow("batching")
    batches = []
    stream = op.input("in", flow, TrickleSource())
    op.output("out", micro_batch("batch", stream, timedelta(milliseconds=60), max_size=1000), TestingSink(batches))
    run_main(flow)
    sizes = [len(items) for _, items in batches]
    assert sum(sizes) == 30
    assert len(sizes) >= 3, f"30 items over ~0.45 s closed as {sizes}: the timeout did not bound the wait"
