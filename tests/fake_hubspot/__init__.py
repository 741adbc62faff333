"""A fake HubSpot for tests and benchmarks: a generated account served on 127.0.0.1."""
from .account import Account, generate_account, iso, now_ms
from .server import FAULT_KINDS, FakeHubSpot, Faults

__all__ = ["Account", "generate_account", "iso", "now_ms", "FAULT_KINDS", "FakeHubSpot", "Faults"]
