"""Throughput of the contract harness: examples per second of the emulator's self-contract,
in-process (WSGI, no socket) and over HTTP (the emulator on a loopback port), per provider;
steps per second of the lifecycle state machines; the client suite's wall time.

    python bench/bench_contracts.py [--examples 60] [--providers syncso,kling]

An "example" is one generated request sent and checked (status, error body, response schema
conformance with openapi-core). Generation, shrinking, validation and the emulator all count:
this is what a CI run of the self-contract pays per example. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis.stateful import run_state_machine_as_test  # noqa: E402
from lipsync_emulator.app import create_app  # noqa: E402
from lipsync_emulator.contracts.receiver import Receiver  # noqa: E402
from lipsync_emulator.contracts.suites.client import ClientContract  # noqa: E402
from lipsync_emulator.contracts.suites.conformance import SelfContract, properties  # noqa: E402
from lipsync_emulator.contracts.suites.lifecycle import machine, settle_settings  # noqa: E402
from lipsync_emulator.testing import EmulatorServer  # noqa: E402

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")


def self_contract_rate(provider: str, where: Any, examples: int) -> tuple[float, int, float]:
    """(examples per second, examples checked, seconds) over valid + schema + every rule."""
    contract = SelfContract(provider, where)
    tests = properties(contract, max_examples=examples)
    started = time.perf_counter()
    for test in tests.values():
        test()
    seconds = time.perf_counter() - started
    return contract.checked / seconds, contract.checked, seconds


def machine_rate(provider: str, where: Any, receiver: Receiver, runs: int) -> tuple[float, int, float]:
    cls = machine(provider, where, receiver)
    started = time.perf_counter()
    run_state_machine_as_test(cls, settings=settle_settings(max_examples=runs, steps=20))
    seconds = time.perf_counter() - started
    steps = sum(v for k, v in cls.stats.items() if k not in ("runs", "jobs"))
    return steps / seconds, steps, seconds


def client_suite_seconds(provider: str, server: EmulatorServer, receiver: Receiver) -> float:
    module = __import__(f"lipsync_emulator.examples.{provider}_client", fromlist=["make_adapter"])
    suite = ClientContract(server, receiver)
    started = time.perf_counter()
    report = suite.run(provider, module.make_adapter)
    if not report.ok:
        print(report.text())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60, help="max examples per property (default 60)")
    parser.add_argument("--runs", type=int, default=20, help="state machine runs (20 steps each)")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    providers = [p for p in args.providers.split(",") if p]
    receiver = Receiver()
    rows = []
    with EmulatorServer() as server:
        for provider in providers:
            in_process = self_contract_rate(provider, create_app({"clock": "virtual", "seed": 1}), args.examples)
            server.reset()
            over_http = self_contract_rate(provider, server.url, args.examples)
            steps = machine_rate(provider, create_app({"clock": "virtual", "seed": 1}), receiver, args.runs)
            suite = client_suite_seconds(provider, server, receiver)
            rows.append((provider, in_process, over_http, steps, suite))
    receiver.close()
    print(f"Self-contract throughput, Python {sys.version.split()[0]}, --examples {args.examples}\n")
    print("| provider | in-process examples/s | over HTTP examples/s | state machine steps/s | client suite (16 "
          "scenarios, correct client) |")
    print("|---|---|---|---|---|")
    for provider, local, http, steps, suite in rows:
        print(f"| {provider} | {local[0]:.0f} ({local[1]} in {local[2]:.1f} s) | {http[0]:.0f} ({http[1]} in "
              f"{http[2]:.1f} s) | {steps[0]:.0f} ({steps[1]} in {steps[2]:.1f} s) | {suite:.1f} s |")


if __name__ == "__main__":
    main()
