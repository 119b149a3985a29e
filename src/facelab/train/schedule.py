"""How far a run's learning-rate schedule has gone: steps planned for ``--epochs``, seconds for
``--minutes``, whichever binds (:class:`Schedule`).

"""
from __future__ import annotations


class Schedule:
    """How far a run's schedule has gone, in [0, 1]: the planned steps done, or the budget's time.

    The clock enters only when it binds: with minutes alone from the start; with ``--epochs`` and
    ``--minutes`` both, once the speed measured says the planned steps will not fit the minutes
    (:meth:`check`, at each epoch's end, or mid-epoch after 20 steps when the plan looks more than
    twice too slow), or when the minutes are up. Until then the schedule is the step count alone,
    so a run whose epochs fit its minutes repeats exactly with its seed (were the clock to lead, as
    it would for the very first steps, each step's learning rate would depend on timing).

    When the clock takes over, the rest of the schedule is spread over the time left, from where
    the steps had brought it: the learning rate carries on smoothly (no skipped warm-up) and
    reaches the schedule's end as the minutes run out. The hand-over point is kept in ``state``
    (``clock_binds``, ``bound_at``: progress and seconds), which ``state.json`` carries to ``--resume``.

    Example:
        >>> s = Schedule(total_steps=1000, budget=100.0, state={})
        >>> s(20, 8.0)                    # by steps while the clock does not bind
        0.02
        >>> s.check(20, 8.0, mid_epoch=True)   # 1000 steps at this pace take 400 s: 4x the budget
        True
        >>> s(20, 8.0), round(s(21, 9.0), 4)   # the same point, then the rest over the 92 s left
        (0.02, 0.0307)
        >>> s(30, 100.0)                  # time up
        1.0
    """

    MID_EPOCH_STEPS = 20  # steps measured before a mid-epoch judgement
    MID_EPOCH_FACTOR = 2.0  # mid-epoch, only a plan this many times too slow binds the clock

    def __init__(self, total_steps: int | None, budget: float | None, state: dict):
        self.total, self.budget, self.state = total_steps, budget, state

    def __call__(self, step: int, elapsed: float) -> float:
        by_steps = step / self.total if self.total else 0.0
        if not self.budget:
            return by_steps
        if elapsed >= self.budget:
            return max(1.0, by_steps)
        if not self.total:
            return elapsed / self.budget
        if not self.state.get("clock_binds"):
            return by_steps
        p0, e0 = self.state["bound_at"]  # set with clock_binds (runs.migrate fills it in older folders)
        by_time = p0 + (1.0 - p0) * max(0.0, elapsed - e0) / max(self.budget - e0, 1e-9)
        return max(by_steps, by_time)

    def check(self, step: int, elapsed: float, *, mid_epoch: bool = False) -> bool:
        """Judge from the speed so far whether the planned steps fit the minutes; once the clock
        binds it stays bound (the schedule never switches back and forth). Returns whether it binds."""
        st = self.state
        if st.get("clock_binds") or not (self.budget and self.total) or step <= 0:
            return bool(st.get("clock_binds"))
        if mid_epoch and step < self.MID_EPOCH_STEPS:
            return False
        projected = elapsed / step * self.total
        if projected > self.budget * (self.MID_EPOCH_FACTOR if mid_epoch else 1.0):
            st["bound_at"] = [step / self.total, float(elapsed)]
            st["clock_binds"] = True
        elif not mid_epoch:
            st["clock_binds"] = False
        return bool(st.get("clock_binds"))
