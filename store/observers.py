"""Write observers: code above the store follows a writer's rows without the writer knowing it.

A writer (the HubSpot sync) announces, in its own transaction, which rows it is about to change
and the data version its bump made::

    watch = observers.watch(conn)              # at the start of the transaction
    with watch.around("deals", ids):           # the rows of `ids` are about to change
        upsert(conn, s.deals, rows, ["deal_id"])
    watch.publish(bump_data_version(conn, "deals"))

Whoever wants to follow such writes registers a factory `f(conn) -> observer` once per process
(`upkeep.install()` registers the metric rollups' Keeper); each `watch(conn)` makes one observer
per factory. An observer has `around(table, ids)`, a context manager around the write of those
rows (ids None: rows unknown), and `publish(version)`, called after the transaction's bump.
With no factory registered, a watch does nothing.
"""
from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from typing import Callable, ContextManager, Iterable, Iterator, Protocol

from sqlalchemy import Connection


class Observer(Protocol):
    def around(self, table: str, ids: Iterable | None) -> ContextManager[None]: ...

    def publish(self, version: int) -> None: ...


Factory = Callable[[Connection], Observer]

_factories: list[Factory] = []
_lock = threading.Lock()


def register(factory: Factory) -> None:
    """Follow every later write with `factory(conn)`; registering twice is the same as once."""
    with _lock:
        if factory not in _factories:
            _factories.append(factory)


def unregister(factory: Factory) -> None:
    """Stop following writes with `factory` (no error if it was not registered)."""
    with _lock:
        if factory in _factories:
            _factories.remove(factory)


def registered() -> list[Factory]:
    with _lock:
        return list(_factories)


class Watch:
    """The observers of one write transaction."""

    def __init__(self, conn: Connection):
        self.observers = [factory(conn) for factory in registered()]

    @contextmanager
    def around(self, table: str, ids: Iterable | None) -> Iterator[None]:
        """Around a write of the rows of `table` with these ids (None: rows unknown)."""
        ids = None if ids is None else list(ids)
        with ExitStack() as stack:
            for observer in self.observers:
                stack.enter_context(observer.around(table, ids))
            yield

    def publish(self, version: int) -> None:
        """After this transaction's data-version bump."""
        for observer in self.observers:
            observer.publish(version)


def watch(conn: Connection) -> Watch:
    """Make it at the start of the transaction, before any write or bump."""
    return Watch(conn)
