"""Wall time of the client contract suite: every scenario against each provider's correct
example client, on the emulator as the pytest fixture runs it (a loopback port, virtual
clock; Kling with a webhook secret and tokens judged on the emulator's clock, so every one of
its scenarios runs). The target: a correct client's whole suite in at most 5 s.

    python bench/bench_client_suite.py [--runs 5] [--providers syncso,kling]

Not a test: it asserts nothing. Prints the median and the slowest run per provider, and the
three slowest scenarios of the median run.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time

from lipsync_emulator.contracts.receiver import Receiver
from lipsync_emulator.contracts.suites.client import ClientContract
from lipsync_emulator.testing import EmulatorServer

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")
SETTINGS = {"kling": {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=",
                                "jwt_clock": "emulator"}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args = parser.parse_args()
    receiver = Receiver()
    print(f"Client contract suite, correct client, Python {sys.version.split()[0]}, {args.runs} runs each\n")
    print("| provider | scenarios | median | slowest | slowest scenarios (median run) |")
    print("|---|---|---|---|---|")
    for provider in [p for p in args.providers.split(",") if p]:
        adapter = importlib.import_module(f"lipsync_emulator.examples.{provider}_client").make_adapter
        with EmulatorServer(SETTINGS.get(provider)) as server:
            runs = []
            for _ in range(args.runs):
                suite = ClientContract(server, receiver)
                started = time.perf_counter()
                report = suite.run(provider, adapter)
                runs.append((time.perf_counter() - started, report))
                if not report.ok:
                    print(report.text())
        runs.sort(key=lambda r: r[0])
        seconds, report = runs[len(runs) // 2]
        slow = sorted(report.results, key=lambda r: -r.seconds)[:3]
        print(f"| {provider} | {len(report.results)} | {statistics.median(r[0] for r in runs):.2f} s | "
              f"{runs[-1][0]:.2f} s | {', '.join(f'{r.name} {r.seconds:.2f} s' for r in slow)} |")
    receiver.close()


if __name__ == "__main__":
    main()
