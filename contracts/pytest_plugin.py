"""pytest plugin of the contract harness (registered through ``pytest11``).

Fixtures:

* ``contract_target`` — where contract requests go: the ``emulator`` fixture's live server
  (requested by name, so this plugin imports nothing from the emulator), or the URL given
  with ``--contract-target URL``.
* ``client_contract`` — runs the client contract suite on that target:
  ``client_contract.check("syncso", make_adapter, "webhook_duplicate")`` (one scenario; a
  violation fails the test with the scenario, the broken expectation and the minimal
  example) or ``client_contract.run("syncso", make_adapter).assert_ok()`` (all of them).
* ``self_contract`` — ``self_contract("syncso")``: the emulator conformance checks.
* ``contract_receiver`` — a loopback webhook receiver (session-wide).

Marker ``@pytest.mark.contract("syncso")``: a contract test of that provider; skipped when the
target does not serve it. Options: ``--contract-target URL``, ``--contract-api-key KEY``,
``--contract-examples N`` (generated requests per property, default 6),
``--contract-shrink-seconds S`` (shrinking budget of a failing property, default 4).

    import pytest
    from lipsync_emulator.contracts import scenario_names

    @pytest.mark.contract("syncso")
    @pytest.mark.parametrize("scenario", scenario_names())
    def test_my_client(client_contract, scenario):
        client_contract.check("syncso", MyAdapter, scenario)

The harness (Hypothesis, openapi-core, the suites) is imported by the fixtures, not when pytest
loads this plugin: every pytest session in the environment loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lipsync_emulator.contracts.receiver import Receiver
    from lipsync_emulator.contracts.suites.client import AdapterFactory, ClientContract, ScenarioResult
    from lipsync_emulator.contracts.suites.conformance import SelfContract
    from lipsync_emulator.contracts.targets import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lipsync-contracts", "lip-sync provider contract tests")
    group.addoption("--contract-target", default=None, metavar="URL",
                    help="run contract tests against this live URL instead of the in-process emulator")
    group.addoption("--contract-api-key", default=None, metavar="KEY", help="API key for the contract target")
    group.addoption("--contract-examples", type=int, default=None, metavar="N",
                    help="generated requests per property scenario (default 6)")
    group.addoption("--contract-shrink-seconds", type=float, default=None, metavar="S",
                    help="how long a failing property scenario may spend shrinking its example (default 4)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract(provider): a contract test of a lip-sync provider; skipped "
                                       "when the contract target does not serve that provider")


@pytest.fixture(scope="session")
def contract_receiver() -> Iterator[Receiver]:
    from lipsync_emulator.contracts.receiver import Receiver

    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def contract_target(request: pytest.FixtureRequest) -> Target:
    """The live target: ``--contract-target`` or the ``emulator`` fixture (reset per test)."""
    from lipsync_emulator.contracts.targets import connect

    url = request.config.getoption("--contract-target")
    if url:
        return connect(url)
    return connect(request.getfixturevalue("emulator"))


@pytest.fixture(autouse=True)
def _contract_marker(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("contract")
    if marker is None or not marker.args:
        return
    from lipsync_emulator.contracts.targets import Control

    provider = str(marker.args[0])
    target: Target = request.getfixturevalue("contract_target")
    control = Control(target)
    if control.available() and provider not in control.health().get("providers", []):
        pytest.skip(f"the contract target does not serve {provider}")


class PytestClientContract:
    """``ClientContract`` for tests: ``check`` skips scenarios that do not apply."""

    def __init__(self, suite: ClientContract) -> None:
        self.suite = suite

    def check(self, provider: str, make_adapter: AdapterFactory, scenario: str) -> ScenarioResult:
        from lipsync_emulator.contracts.suites.client import ScenarioSkipped

        try:
            return self.suite.check(provider, make_adapter, scenario)
        except ScenarioSkipped as exc:
            pytest.skip(str(exc))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.suite, name)


@pytest.fixture
def client_contract(request: pytest.FixtureRequest, contract_target: Target,
                    contract_receiver: Receiver) -> PytestClientContract:
    from lipsync_emulator.contracts.suites.client import ClientContract

    examples = request.config.getoption("--contract-examples") or 6
    shrink = request.config.getoption("--contract-shrink-seconds")
    suite = ClientContract(contract_target, contract_receiver, api_key=request.config.getoption("--contract-api-key"),
                           examples=examples, shrink_seconds=4.0 if shrink is None else shrink)
    return PytestClientContract(suite)


@pytest.fixture
def self_contract(request: pytest.FixtureRequest, contract_target: Target) -> Callable[[str], SelfContract]:
    from lipsync_emulator.contracts.suites.conformance import SelfContract

    key = request.config.getoption("--contract-api-key")
    return lambda provider: SelfContract(provider, contract_target, api_key=key)
