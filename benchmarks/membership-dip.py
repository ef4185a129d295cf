#!/usr/bin/env python3
"""Throughput around each fault of a chaos run: the dip and how long it lasts.

    synod chaos --nemesis member --rate 0 --clients 8 --history h.jsonl --json t.json
    benchmarks/membership-dip.py h.jsonl t.json

For each fault window of the timeline, the baseline is the median number of
operations completed per 100 ms bucket over the 3 s before the fault; the
dip is the lowest bucket from the fault's start to 2 s after its heal (or
the end of the history), as a share of the baseline; then how long buckets
stayed below half the baseline in that span, and how long no operation
completed at all. Standard library only, so it runs anywhere Python 3 does.
"""

import json
import statistics
import sys

BUCKET_NANOSECONDS = 100_000_000
BASELINE_NANOSECONDS = 3_000_000_000
AFTER_HEAL_NANOSECONDS = 2_000_000_000


def main(history_path, timeline_path):
    returns = []
    with open(history_path) as history:
        for line in history:
            operation = json.loads(line)
            if operation["status"] == "ok" and operation["client"] < 1_000_000:
                returns.append(operation["return"])
    with open(timeline_path) as timeline_file:
        timeline = json.load(timeline_file)
    buckets = {}
    for returned in returns:
        buckets[returned // BUCKET_NANOSECONDS] = buckets.get(returned // BUCKET_NANOSECONDS, 0) + 1

    # A window that runs past the end of the history would count the stopped
    # clients as a dip: cut it at the last completed operation's bucket.
    last_bucket = max(buckets) if buckets else 0

    def count(bucket):
        return buckets.get(bucket, 0)

    print(f"{'at':>7}  {'nemesis':<9} {'baseline/s':>10} {'lowest':>7} {'below half':>10} {'at zero':>7}  what")
    for fault in timeline["faults"]:
        start = fault["start_nanoseconds"] // BUCKET_NANOSECONDS
        end = min(
            (fault["end_nanoseconds"] + AFTER_HEAL_NANOSECONDS) // BUCKET_NANOSECONDS,
            last_bucket,
        )
        before = range(start - BASELINE_NANOSECONDS // BUCKET_NANOSECONDS, start)
        baseline = statistics.median(count(bucket) for bucket in before) if before else 0
        during = [count(bucket) for bucket in range(start, end)]
        lowest = min(during) if during else 0
        below = sum(1 for value in during if value < baseline / 2)
        stalled = sum(1 for value in during if value == 0)
        share = f"{100 * lowest / baseline:.0f} %" if baseline else "-"
        print(
            f"{fault['start_nanoseconds'] / 1e9:6.1f}s  {fault['nemesis']:<9} "
            f"{baseline * 10:>10.0f} {share:>7} {below / 10:>9.1f}s {stalled / 10:>6.1f}s  {fault['description']}"
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
