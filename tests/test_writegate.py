"""SQLite writers of one process queue in arrival order and hold their turn until their transaction ends."""

from __future__ import annotations

import threading

from agora.core.writegate import WriteGate, gate


def _wait_until(condition) -> None:
    while not condition():
        threading.Event().wait(0.001)


def test_waiters_get_the_gate_in_the_order_they_asked():
    turns = WriteGate()
    assert turns.acquire(timeout=1)
    order, threads = [], []
    for name in "BCD":

        def wait(name=name):
            assert turns.acquire(timeout=5)
            order.append(name)
            turns.release()

        threads.append(threading.Thread(target=wait))
        threads[-1].start()
        _wait_until(lambda: len(turns._queue) == len(threads))  # B is queued before C asks, and so on
    turns.release()
    for thread in threads:
        thread.join(5)
    assert order == ["B", "C", "D"] and turns.owner is None


def test_a_writer_that_waits_too_long_gives_up_and_leaves_the_queue():
    turns = WriteGate()
    holder = threading.Thread(target=lambda: turns.acquire(timeout=1))
    holder.start()
    holder.join()
    assert turns.acquire(timeout=0.01) is False
    assert len(turns._queue) == 0 and turns.owner == holder.ident


def test_the_same_thread_may_enter_again():
    turns = WriteGate()
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)
    turns.release()
    assert turns.owner == threading.get_ident()
    turns.release()
    assert turns.owner is None


def test_a_transaction_holds_the_turn_from_its_first_write_to_its_end(app, db, make_user):
    on_sqlite = db.engine.dialect.name == "sqlite"
    from agora.auth.models import User

    user = db.session.get(User, make_user("ecrivaine").id)
    assert gate.owner is None
    user.display_name = "Écrivaine"
    db.session.flush()
    assert gate.owner == (threading.get_ident() if on_sqlite else None)
    db.session.commit()
    assert gate.owner is None
    user.display_name = "Autre"
    db.session.flush()
    db.session.rollback()
    assert gate.owner is None
