"""The client contract suite against realistic buggy clients (``tests/contracts/mutants``): each
is a correct example client with one bug teams ship. Run exactly as README.md tells a user (a
test file on the plugin's ``client_contract`` fixture, plain ``pytest`` with default options,
in a pytest process of its own), the suite fails at least 95 % of them, passes every client
they derive from, and each report names its bug under the scenario meant for it; each new
scenario fails the client with the bug it is for, and its report names it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from lipsync_emulator.contracts.pytest_plugin import PytestClientContract
from lipsync_emulator.contracts.suites.client import ClientContract

from tests.contracts import mutants
from tests.contracts.mutants import CAUGHT_BY, CORRECT, MUTANTS, mutant

ROOT = Path(__file__).resolve().parents[2]
KLING = {"kling": {"webhook_secret": "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "jwt_clock": "emulator"}}

# (provider, bug, the scenario that must catch it, words its report must contain)
NAMED = [
    ("syncso", "no_idempotency_key", "lost_answer_submit", "does not create a second job"),
    ("syncso", "new_key_per_attempt", "lost_answer_submit", "2 jobs were created"),
    ("wavespeed", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("wavespeed", "retries_post_on_504", "lost_answer_submit", "(gateway timeout, 504) does not create a second job"),
    ("kling", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("lipsyncstudio", "retries_post_on_reset", "lost_answer_submit", "2 jobs were created"),
    ("syncso", "skips_timestamp_check", "webhook_replayed", "check the timestamp, not only the signature"),
    ("wavespeed", "skips_timestamp_check", "webhook_replayed", "(a replay) is rejected"),
    ("kling", "skips_timestamp_check", "webhook_replayed", "(a replay) is rejected"),
    ("lipsyncstudio", "trusts_webhook_body", "webhook_forged", "confirm the outcome with the API"),
    ("syncso", "trusts_unsigned", "webhook_forged", "check its signature"),
    ("lipsyncstudio", "resubmits_without_webhook", "webhook_http", "not sent again without it"),
    ("wavespeed", "no_pause_after_429", "rate_limited_poll", "429 without Retry-After is retried after a backoff"),
    ("kling", "no_pause_after_429", "rate_limited_submit", "429 without Retry-After is retried after a backoff"),
    ("wavespeed", "only_failed_is_terminal", "job_other_failures", "after it had ended cancelled"),
    ("syncso", "rejected_not_terminal", "job_rejected", "after it had ended REJECTED"),
    ("syncso", "json_before_status", "bad_gateway_submit", "not as a JSON decoding error"),
    ("lipsyncstudio", "json_before_status", "bad_gateway_poll", "HTML 502 while polling does not end the wait"),
    ("wavespeed", "gives_up_on_502", "bad_gateway_poll", "raised RuntimeError: bad gateway: 502"),
    ("kling", "never_refreshes_token", "token_expiry", "the client signs a new JWT before exp"),
]


@pytest.fixture
def suite_for(client_contract: PytestClientContract, make_emulator: Any) -> Any:
    def build(provider: str) -> ClientContract:
        suite = ClientContract(make_emulator(KLING)) if provider == "kling" else client_contract.suite
        suite.examples, suite.shrink_seconds = 3, 0.5  # --contract-examples 3 --contract-shrink-seconds 0.5
        return suite

    return build


def test_there_are_forty_realistic_mutants_across_the_four_providers() -> None:
    assert sum(map(len, MUTANTS.values())) >= 40 and all(len(m) >= 8 for m in MUTANTS.values())


@pytest.mark.parametrize(("provider", "bug", "scenario", "words"), NAMED, ids=[f"{p}-{b}" for p, b, _, _ in NAMED])
def test_each_new_scenario_fails_its_bug_and_names_it(suite_for: Any, provider: str, bug: str, scenario: str,
                                                      words: str) -> None:
    suite = suite_for(provider)
    report = suite.run(provider, mutant(provider, bug), [scenario])
    assert report.violated() == [scenario], report.text()
    assert words in report.text(), report.text()
    assert suite.run(provider, CORRECT[provider], [scenario]).ok  # and the client it derives from passes


# two pytest processes, one per core, each a pair of providers of about equal cost
SHARDS = ("syncso or lipsyncstudio", "wavespeed or kling")


def test_the_suite_run_as_the_readme_says_kills_95_percent_and_passes_every_correct_client(tmp_path: Path) -> None:
    module = tmp_path / "test_clients.py"
    module.write_text((Path(mutants.__file__).parent / "as_a_user.py").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--rootdir", str(tmp_path),
                              "--junitxml", str(tmp_path / f"shard{n}.xml"), "-k", shard, str(module)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for n, shard in enumerate(SHARDS)]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    reports: dict[str, str | None] = {}  # test id -> the failure's report, None when it passed
    for n, output in enumerate(outputs):
        assert (tmp_path / f"shard{n}.xml").exists(), output[-3000:]
        for case in ElementTree.parse(tmp_path / f"shard{n}.xml").iter("testcase"):
            failure = case.find("failure")
            reports[case.get("name", "")[len("test_client["):-1]] = None if failure is None else \
                re.sub(r"(?m)^E\s+", "", failure.text or "")
    clients = [f"{p}-correct" for p in CORRECT] + [f"{p}-{b}" for p, bugs in MUTANTS.items() for b in bugs]
    assert sorted(reports) == sorted(clients)
    assert [c for c in CORRECT if reports[f"{c}-correct"] is not None] == [], reports
    survivors = [c for c in clients if not c.endswith("-correct") and reports[c] is None]
    assert len(survivors) <= 0.05 * (len(clients) - len(CORRECT)), f"survived: {survivors}"
    for client, report in reports.items():
        if report is None or client.endswith("-correct"):
            continue
        scenario, words = CAUGHT_BY[client.split("-", 1)[1]]
        section = report.partition(f"VIOLATED {scenario}:")[2].split("\n\nVIOLATED ")[0].split("\n\nSKIPPED ")[0]
        assert words in section, f"{client}: no {words!r} under {scenario}:\n{report}"
