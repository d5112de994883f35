"""Ring buffers under concurrent stress: no torn frames, newest wins, exact drop counts."""

import threading
import time

import pytest

from realtime.frame import Frame
from realtime.pipeline.ring import Policy, Ring, RingClosed

SHAPE = (24, 32, 3)


def _write(ring: Ring, index: int, fill_slowly: bool = False) -> bool:
    slot = ring.acquire(timeout=1.0)
    if slot is None:
        return False
    buf = slot.buffer(SHAPE)
    value = index % 251
    if fill_slowly:  # give readers every chance to see a half-written slot
        for row in range(SHAPE[0]):
            buf[row] = value
            if row % 8 == 0:
                time.sleep(0)
    else:
        buf[...] = value
    ring.publish(slot, Frame(index=index, captured_at=time.monotonic(), image=buf))
    return True


def test_latest_wins_under_stress_no_torn_frames_exact_drops():
    ring = Ring(5, Policy.LATEST)
    n_writers, per_writer = 3, 400
    counter = iter(range(10**9))
    lock = threading.Lock()
    seen: list[int] = []
    torn: list[int] = []
    done = threading.Event()

    def writer():
        for _ in range(per_writer):
            with lock:
                idx = next(counter)
            assert _write(ring, idx, fill_slowly=True)

    def reader():
        while True:
            lease = ring.get(timeout=0.05)
            if lease is None:
                if done.is_set():
                    return
                continue
            with lease:
                img = lease.frame.image
                first = int(img.flat[0])
                time.sleep(0.0005)  # hold the slot while writers keep going
                if not (img == first).all() or first != lease.frame.index % 251:
                    torn.append(lease.frame.index)
                seen.append(lease.frame.index)

    writers = [threading.Thread(target=writer) for _ in range(n_writers)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    ring.close()
    done.set()
    for t in readers:
        t.join()
    total = n_writers * per_writer
    assert torn == []
    assert ring.published == total
    assert len(seen) == ring.consumed
    assert ring.consumed + ring.dropped + ring.waiting == total
    assert ring.waiting == 0
    assert ring.dropped > 0  # the readers were slower: frames had to be dropped


def test_latest_reader_gets_newest_and_older_are_counted_drops():
    ring = Ring(4, Policy.LATEST)
    for i in range(10):
        assert _write(ring, i)
    lease = ring.get(timeout=0)
    assert lease is not None and lease.frame.index == 9
    lease.release()
    assert ring.dropped == 9 and ring.consumed == 1


def test_latest_stale_frame_is_dropped_on_arrival():
    ring = Ring(4, Policy.LATEST)
    _write(ring, 5)
    _write(ring, 3)  # a slower worker finishing an older frame
    lease = ring.get(timeout=0)
    assert lease is not None and lease.frame.index == 5
    assert ring.dropped == 1


def test_block_policy_drops_nothing_and_keeps_order():
    ring = Ring(3, Policy.BLOCK)
    got: list[int] = []

    def reader():
        while (lease := ring.get(timeout=2)) is not None:
            with lease:
                time.sleep(0.001)
                got.append(lease.frame.index)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(200):
        assert _write(ring, i)
    ring.close()
    t.join()
    assert got == list(range(200)) and ring.dropped == 0


def test_ordered_ring_reorders_out_of_order_workers():
    ring = Ring(6, Policy.BLOCK, ordered=True)
    for i in (2, 0, 3, 1):
        _write(ring, i)
    out = []
    while (lease := ring.get(timeout=0)) is not None:
        out.append(lease.frame.index)
        lease.release()
    assert out == [0, 1, 2, 3]


def test_block_acquire_times_out_when_full_and_close_refuses_writers():
    ring = Ring(2, Policy.BLOCK)
    assert _write(ring, 0) and _write(ring, 1)
    assert ring.acquire(timeout=0.05) is None
    ring.close()
    with pytest.raises(RingClosed):
        ring.acquire(timeout=0)
    assert [ring.get(0).frame.index, ring.get(0).frame.index] == [0, 1]  # type: ignore[union-attr]
    assert ring.get(0) is None


def test_slot_buffers_are_preallocated_and_reused():
    ring = Ring(2, Policy.LATEST)
    ids = set()
    for i in range(20):
        slot = ring.acquire(timeout=0)
        assert slot is not None
        buf = slot.buffer(SHAPE)
        ids.add(id(buf))
        ring.publish(slot, Frame(index=i, captured_at=0.0, image=buf))
    assert len(ids) <= 2


def test_a_moved_on_frame_keeps_its_upstream_slot_until_freed_downstream():
    up, down = Ring(3, Policy.LATEST, name="up"), Ring(3, Policy.LATEST, name="down")
    _write(up, 0)
    lease = up.get(timeout=0)
    assert lease is not None
    with lease:  # a stage that passes the image through
        slot = down.acquire(timeout=0)
        assert slot is not None
        down.publish(slot, lease.frame, hold=lease.transfer())
    assert up._state[lease.index] != 0  # still owned: the frame lives on downstream
    _write(up, 1)
    _write(up, 2)  # the upstream ring keeps working around the held slot
    assert up.waiting == 1
    got = down.get(timeout=0)
    assert got is not None and got.frame.image is lease.frame.image
    got.release()
    assert up._state[lease.index] == 0  # freed with the downstream slot


def test_a_dropped_moved_on_frame_frees_its_upstream_slot():
    up, down = Ring(4, Policy.LATEST), Ring(3, Policy.LATEST)
    held = []
    for i in range(2):
        _write(up, i)
        lease = up.get(timeout=0)
        slot = down.acquire(timeout=0)
        down.publish(slot, lease.frame, hold=lease.transfer())
        held.append(lease.index)
    # frame 0 was dropped downstream when frame 1 arrived: its upstream slot is free again
    assert up._state[held[0]] == 0 and up._state[held[1]] != 0


def test_an_ordered_ring_keeps_its_last_slot_for_the_frame_its_reader_waits_for():
    """Several workers, one descheduled with frame 0 while the others publish later frames:
    they must not take every slot, or frame 0 never gets one and the file job hangs."""
    import numpy as np

    def frame(i: int) -> Frame:
        return Frame(index=i, captured_at=float(i), image=np.zeros((4, 4, 3), np.uint8))

    ring = Ring(3, Policy.BLOCK, ordered=True)
    for i in (1, 2):
        slot = ring.acquire(0.1, index=i)
        assert slot is not None
        ring.publish(slot, frame(i))
    assert ring.acquire(0.05, index=3) is None  # the last slot waits for frame 0
    slot = ring.acquire(0.05, index=0)
    assert slot is not None
    ring.publish(slot, frame(0))
    assert [ring.get(0.1).frame.index for _ in range(3)] == [0, 1, 2]  # type: ignore[union-attr]
