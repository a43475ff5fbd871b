"""How far back can the 2H partitions start before the Dagster UI's partitions page slows down?

Starts `dagster-webserver` on 127.0.0.1 for each OVC_PARTITIONS_START, then times the GraphQL
request the asset's partitions page makes for `ovc_blocks` (its partition keys and the
materialisation status ranges), plus the webserver's first load of the code location. Run by
hand; prints a markdown table for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_partitions_page.py
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

STARTS = ("2024-01-07 17:00", "2020-01-05 17:00", "2015-01-04 17:00", "2010-01-03 17:00", "2005-01-02 17:00")
REPEATS = 5
PARTITIONS_PAGE_QUERY = """
query PartitionsPage($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    ... on AssetNode {
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        ... on TimePartitionStatuses { ranges { status startKey endKey } }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def measure(start: str) -> tuple[int, float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DAGSTER_HOME": home, "OVC_PARTITIONS_START": start}
        server = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-m", "ovc_assets.definitions", "-h", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            began = time.perf_counter()
            deadline = began + 120
            while time.perf_counter() < deadline:
                try:
                    if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            payload = {"query": PARTITIONS_PAGE_QUERY, "variables": {"assetKey": {"path": ["ovc_blocks"]}}}
            first = time.perf_counter()
            response = httpx.post(f"{url}/graphql", json=payload, timeout=300)
            first_load = time.perf_counter() - first
            keys = response.json()["data"]["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]
            timings = []
            for _ in range(REPEATS):
                began = time.perf_counter()
                httpx.post(f"{url}/graphql", json=payload, timeout=300).raise_for_status()
                timings.append(time.perf_counter() - began)
            return len(keys), first_load, statistics.median(timings)
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    print("| OVC_PARTITIONS_START | 2H partitions | first request (s) | median of next 5 (s) |")
    print("|---|---:|---:|---:|")
    for start in STARTS:
        count, first_load, median = measure(start)
        print(f"| {start} | {count:,} | {first_load:.2f} | {median:.2f} |", flush=True)


if __name__ == "__main__":
    main()
