"""The night's steps keep the long-lived heap out of the cycle collector's passes while they run,
and give it back after (else cyclic garbage among those objects would never be freed)."""

from __future__ import annotations

import gc

from xunqin.flows import steps


def test_a_step_freezes_the_heap_while_it_runs_and_gives_it_back():
    assert gc.get_freeze_count() == 0
    held = [[i] for i in range(1000)]  # long-lived containers, alive before the step
    with steps._long_lived_heap_frozen():
        assert gc.get_freeze_count() >= len(held)
        with steps._long_lived_heap_frozen():  # a step inside another: the outer one decides
            pass
        assert gc.get_freeze_count() >= len(held)
    assert gc.get_freeze_count() == 0
    assert held


def test_the_heap_is_given_back_when_the_step_fails():
    try:
        with steps._long_lived_heap_frozen():
            raise RuntimeError("a failing step")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_made_before_the_step_is_freed_after_it():
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    import weakref

    gone = weakref.ref(a)
    with steps._long_lived_heap_frozen():
        del a, b  # now garbage, but frozen: no pass can free it
        gc.collect()
        assert gone() is not None
    gc.collect()
    assert gone() is None
