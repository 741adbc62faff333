"""store.observers: factories registered once, one observer each per watched transaction, around()
nested around the write, publish() after the bump; nothing happens without a factory."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from store import bump_data_version, observers


class Recorder:
    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def __call__(self, conn):  # the factory
        self.log.append((self.name, "made"))
        return self

    @contextmanager
    def around(self, table, ids):
        self.log.append((self.name, "before", table, ids))
        yield
        self.log.append((self.name, "after", table, ids))

    def publish(self, version):
        self.log.append((self.name, "publish", version))


@pytest.fixture
def registered():
    made: list = []
    yield made
    for factory in made:
        observers.unregister(factory)


def test_observers_follow_a_write_in_order(engine, registered):
    log: list = []
    a, b = Recorder("a", log), Recorder("b", log)
    for factory in (a, b, a):  # twice is once
        observers.register(factory)
    registered += [a, b]
    with engine.begin() as conn:
        watch = observers.watch(conn)
        with watch.around("deals", iter(["1", "2"])):  # any iterable: every observer sees the ids
            log.append("write")
        watch.publish(bump_data_version(conn, "deals"))
    assert log[:2] == [("a", "made"), ("b", "made")]
    assert log[2:7] == [("a", "before", "deals", ["1", "2"]), ("b", "before", "deals", ["1", "2"]), "write",
                        ("b", "after", "deals", ["1", "2"]), ("a", "after", "deals", ["1", "2"])]
    assert log[7][:2] == ("a", "publish") and log[8][:2] == ("b", "publish") and log[7][2] == log[8][2] > 0


def test_observers_unknown_rows_and_unregistered_factories(engine, registered):
    log: list = []
    a = Recorder("a", log)
    observers.register(a)
    registered.append(a)
    with engine.begin() as conn:
        with observers.watch(conn).around("owners", None):
            pass
    assert log == [("a", "made"), ("a", "before", "owners", None), ("a", "after", "owners", None)]
    observers.unregister(a)
    observers.unregister(a)  # no error
    log.clear()
    with engine.begin() as conn:
        watch = observers.watch(conn)
        with watch.around("deals", ["1"]):
            pass
        watch.publish(1)
    assert log == [] and a not in observers.registered()
