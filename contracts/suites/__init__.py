"""The contract suites: the emulator's self-contract (``conformance``), the lifecycle state
machines (``lifecycle``), the client contract suite (``client``) and the Schemathesis run
(``fuzz``)."""
