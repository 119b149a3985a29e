"""The micro-batching queue of the server (facelab.serve.batching) with real threads."""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from facelab.serve.batching import BatchTimeout, MicroBatcher


class Model:
    """A real classifier stand-in: each crop's mean pixel value / 255, recording every call."""

    def __init__(self, delay: float = 0.0, poison: int | None = None):
        self.calls: list[int] = []
        self.delay = delay
        self.poison = poison
        self.lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(len(x))
        if self.delay:
            time.sleep(self.delay)
        if x.ndim != 4 or x.shape[1:] != (4, 4, 3):
            raise ValueError(f"expected (N, 4, 4, 3) crops, got {x.shape}")
        if self.poison is not None and np.any(x == self.poison):
            raise ValueError("a crop this model cannot take")
        return x.reshape(len(x), -1).mean(1, keepdims=True) / 255.0


def crops(*values: int) -> np.ndarray:
    return np.stack([np.full((4, 4, 3), v, np.uint8) for v in values])


def test_concurrent_requests_share_batches_and_get_their_own_rows_in_order():
    model = Model(delay=0.01)
    b = MicroBatcher(model, window_ms=20, max_faces=64, name="t")
    results: dict[int, np.ndarray] = {}

    def client(i: int) -> None:
        vals = [(i * 7 + j) % 250 for j in range(1 + i % 3)]  # 1-3 faces, distinct per client
        results[i] = (np.array(vals) / 255.0, b.submit_sync(crops(*vals)).ravel())

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.close()
    for i, (want, got) in results.items():
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"client {i} got another client's rows")
    assert len(results) == 24
    assert len(model.calls) < 24, "concurrent requests were not batched together"
    assert sum(model.calls) == sum(1 + i % 3 for i in range(24)) == b.faces


def test_a_batch_never_exceeds_max_faces():
    model = Model(delay=0.02)
    b = MicroBatcher(model, window_ms=30, max_faces=5, name="t")
    futs = [b.submit(crops(*range(i, i + 2))) for i in range(10)]  # 20 faces, 2 per request
    got = [f.result(timeout=10).ravel() for f in futs]
    b.close()
    assert max(model.calls) <= 5 and sum(model.calls) == 20
    for i, g in enumerate(got):
        np.testing.assert_allclose(g, np.array([i, i + 1]) / 255.0, rtol=1e-6)


def test_a_request_larger_than_the_cap_is_classified_alone():
    model = Model()
    b = MicroBatcher(model, window_ms=1, max_faces=2, name="t")
    out = b.submit_sync(crops(1, 2, 3, 4))
    b.close()
    assert out.shape == (4, 1) and model.calls == [4]


def test_a_failing_request_does_not_fail_the_others_in_its_batch():
    model = Model(delay=0.05, poison=99)
    b = MicroBatcher(model, window_ms=50, max_faces=64, name="t")
    blocker = b.submit(crops(1))  # occupies the thread while the next three queue up together
    time.sleep(0.01)
    good1 = b.submit(crops(10, 11))
    bad = b.submit(crops(99))  # the model raises on it
    wrong_shape = b.submit(np.zeros((1, 8, 8, 3), np.uint8))  # cannot even be stacked with the rest
    good2 = b.submit(crops(12))
    assert blocker.result(timeout=10).shape == (1, 1)
    np.testing.assert_allclose(good1.result(timeout=10).ravel(), [10 / 255, 11 / 255], rtol=1e-6)
    np.testing.assert_allclose(good2.result(timeout=10).ravel(), [12 / 255], rtol=1e-6)
    with pytest.raises(ValueError, match="cannot take"):
        bad.result(timeout=10)
    with pytest.raises(ValueError, match="expected"):
        wrong_shape.result(timeout=10)
    # the thread is still alive and serves the next request
    np.testing.assert_allclose(b.submit_sync(crops(5)).ravel(), [5 / 255], rtol=1e-6)
    b.close()


def test_a_request_past_its_timeout_gets_batch_timeout_and_is_not_classified():
    model = Model(delay=0.3)
    b = MicroBatcher(model, window_ms=0, name="t")
    slow = b.submit(crops(1))  # the model is busy with this one for 0.3 s
    time.sleep(0.02)
    late = b.submit(crops(2), timeout_s=0.05)
    with pytest.raises(BatchTimeout):
        late.result(timeout=10)
    assert slow.result(timeout=10).shape == (1, 1)
    b.close()
    assert model.calls == [1], "the timed-out request's crops were classified anyway"


def test_async_run_and_its_timeout():
    model = Model(delay=0.3)
    b = MicroBatcher(model, window_ms=1, name="t")

    async def main():
        ok = await b.run(crops(51))
        busy = asyncio.ensure_future(b.run(crops(1)))
        await asyncio.sleep(0.02)
        with pytest.raises(BatchTimeout):
            await b.run(crops(2), timeout_s=0.05)
        await busy
        return ok

    assert asyncio.run(main()).ravel().tolist() == pytest.approx([0.2])
    b.close()


def test_depth_counts_waiting_crops_and_empty_requests_answer_at_once():
    model = Model(delay=0.2)
    b = MicroBatcher(model, window_ms=0, name="t")
    first = b.submit(crops(1))
    time.sleep(0.05)  # the first batch is running; these wait
    waiting = [b.submit(crops(2, 3)), b.submit(crops(4))]
    assert b.depth == 3
    assert b.submit(np.zeros((0, 4, 4, 3), np.uint8)).result(timeout=1).shape[0] == 0
    for f in [first, *waiting]:
        f.result(timeout=10)
    assert b.depth == 0
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(crops(1))
