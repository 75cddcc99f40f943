"""Wall time and steadiness of the client contract suite: every scenario against each
provider's correct example client, on the emulator as the pytest fixture runs it (a loopback
port, virtual clock; Kling with a webhook secret and tokens judged on the emulator's clock, so
every one of its scenarios runs). Targets: a correct client's whole suite in at most 5 s on a
quiet machine, and every run passing — also with CPU-bound processes running beside it.

    python bench/bench_client_suite.py [--runs 5] [--providers syncso,kling]
    python bench/bench_client_suite.py --runs 20 --burners 2    # 20 runs in a row beside 2 CPU hogs

Not a test: it asserts nothing. Prints, per provider, how many runs passed, the median and the
slowest run, the three slowest scenarios of the median run, and the report of any failed run.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import statistics
import sys
import time

from lipsync_emulator.contracts.receiver import Receiver
from lipsync_emulator.contracts.suites.client import ClientContract
from lipsync_emulator.testing import EmulatorServer

PROVIDERS = ("syncso", "wavespeed", "lipsyncstudio", "kling")
SETTINGS = {"kling": {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=",
                                "jwt_clock": "emulator"}}}


def burn() -> None:
    """A CPU-bound process: what a parallel build or test job does to the suite's machine."""
    n = 0
    while True:
        n = (n * 31 + 7) % 1_000_003


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--burners", type=int, default=0, help="CPU-bound processes to run beside the suite")
    args = parser.parse_args()
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    receiver = Receiver()
    print(f"Client contract suite, correct client, Python {sys.version.split()[0]}, {args.runs} runs each, "
          f"{args.burners} CPU-bound processes beside it, load average {os.getloadavg()[0]:.1f}\n")
    print("| provider | scenarios | passed | median | slowest | slowest scenarios (median run) |")
    print("|---|---|---|---|---|---|")
    try:
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
                        print(report.text(), flush=True)
            passed = sum(report.ok for _, report in runs)
            runs.sort(key=lambda r: r[0])
            seconds, report = runs[len(runs) // 2]
            slow = sorted(report.results, key=lambda r: -r.seconds)[:3]
            print(f"| {provider} | {len(report.results)} | {passed}/{len(runs)} | "
                  f"{statistics.median(r[0] for r in runs):.2f} s | {runs[-1][0]:.2f} s | "
                  f"{', '.join(f'{r.name} {r.seconds:.2f} s' for r in slow)} |", flush=True)
    finally:
        receiver.close()
        for process in burners:
            process.terminate()
            process.join()


if __name__ == "__main__":
    main()
