"""``bucket(auto)``: bucket boundaries and issue points from the cost model.

A sweep walks each chain of compatible FSDP collectives (all-gathers by first use,
reduce-scatters by readiness) over an estimated compute timeline (the skeleton's op times plus the
stalls and copies already decided). For each bucket it picks slots:

- all-gather: issued just in time -- at the latest slot from which it still ends before its first
  use, given when its stream frees up -- so its buffers live no longer than overlap needs;
- reduce-scatter: issued when its inputs are ready and waited at the first slot the compute
  reaches after it should have ended (or at its first use).

The next collective joins the current bucket when that lowers the added delay (stall plus the
bucket's copy-in/out time) compared with two separate collectives, ties by earlier stream end,
and the bucket stays within the cap. Merging that would expose a collective, or cost more copying
than it saves in latency, is refused -- so compute-bound steps keep small buckets. The plan with
merging, the plan without, and the input are then simulated; the fastest within the memory budget
wins (ties: the input first, then fewer changes).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import attrs

from ctc.ir.core import Func
from ctc.ir.ops import AllGatherOp
from ctc.schedule.bucketing import bucket_bytes
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import flatten
from ctc.schedule.memory import memory_profile
from ctc.schedule.placement import enforce, fit_budget, home_placement
from ctc.schedule.plan import apply_buckets, build_function, candidate_chains
from ctc.schedule.simulate import simulate_ops
from ctc.schedule.units import CommUnit, Layout, Role, Slots, emit

Delay = tuple[int, float]
# The next collective on a stream: its first-use slot and its lead (see ``Sweep.lead``).
Follow = tuple[int, float] | None
_EPSILON = 1e-12
# Collectives after a merge candidate that the merge decision also simulates.
LOOKAHEAD = 4


@attrs.define
class Timeline:
    """When the compute stream reaches each slot: skeleton op times plus delays at slots."""

    base: list[float]
    slots: list[int] = attrs.field(factory=list)
    cumulative: list[float] = attrs.field(factory=list)  # delay at slots[0..i] summed

    @property
    def total_delay(self) -> float:
        return self.cumulative[-1] if self.cumulative else 0.0

    def at(self, slot: int, extra: Sequence[Delay] = ()) -> float:
        position = bisect.bisect_right(self.slots, slot)
        delay = self.cumulative[position - 1] if position else 0.0
        return self.base[slot] + delay + sum(d for s, d in extra if s <= slot)

    def add(self, delays: Sequence[Delay]) -> None:
        for slot, amount in delays:
            if amount <= 0:
                continue
            position = bisect.bisect_right(self.slots, slot)
            self.slots.insert(position, slot)
            previous = self.cumulative[position - 1] if position else 0.0
            self.cumulative.insert(position, previous)
            for index in range(position, len(self.cumulative)):
                self.cumulative[index] += amount

    def latest_slot(self, low: int, high: int, time: float, extra: Sequence[Delay] = ()) -> int:
        """The largest slot in [low, high] reached by ``time`` (``low`` when none is)."""
        while low < high:
            middle = (low + high + 1) // 2
            if self.at(middle, extra) <= time:
                low = middle
            else:
                high = middle - 1
        return low

    def earliest_slot(self, low: int, high: int, time: float, extra: Sequence[Delay] = ()) -> int:
        """The smallest slot in [low, high] reached at or after ``time`` (``high`` when none)."""
        while low < high:
            middle = (low + high) // 2
            if self.at(middle, extra) >= time:
                high = middle
            else:
                low = middle + 1
        return low


@attrs.frozen
class Step:
    """A bucket's slots and what it does to the timeline."""

    members: tuple[int, ...]
    issue: int
    finish: int
    end: float
    delays: tuple[Delay, ...]

    @property
    def added_delay(self) -> float:
        return sum(amount for _, amount in self.delays)


@attrs.define
class Sweep:
    layout: Layout
    cost_model: CostModel
    timeline: Timeline

    def duration(self, members: Sequence[int]) -> float:
        parts = [self.cost_model.collective_parts(self.unit(m).collective) for m in members]
        return parts[0][0] + sum(transfer for _, transfer in parts)

    def unit(self, number: int) -> CommUnit:
        return self.layout.units[number]

    def copy_times(self, members: Sequence[int]) -> tuple[float, float]:
        """Compute-stream seconds of a bucket's copy-in and copy-out (0 for one member)."""
        if len(members) < 2:
            return 0.0, 0.0
        big = bucket_bytes(self.unit(m) for m in members)
        ranks = self.unit(members[0]).collective.size
        if isinstance(self.unit(members[0]).collective, AllGatherOp):
            return self.cost_model.copy_time(2 * big / ranks, 1), self.cost_model.copy_time(
                2 * big, len(members)
            )
        return self.cost_model.copy_time(2 * big, 1), 0.0

    def lead(self, members: Sequence[int], follow: Follow) -> float:
        """Seconds before its first use by which a bucket must start so that it, and the
        collectives queued behind it on its stream (``follow``: the next one's first-use slot and
        lead), are all on time."""
        duration = self.duration(members)
        if follow is None:
            return duration
        need = min(self.unit(m).need for m in members)
        next_need, next_lead = follow
        gap = self.timeline.base[next_need] - self.timeline.base[need]
        return duration + max(0.0, next_lead - gap)

    def step(
        self,
        members: Sequence[int],
        free: float,
        extra: Sequence[Delay] = (),
        follow: Follow = None,
    ) -> Step:
        ready = max(self.unit(m).ready for m in members)
        need = min(self.unit(m).need for m in members)
        duration = self.duration(members)
        copy_in, copy_out = self.copy_times(members)
        timeline = self.timeline
        if isinstance(self.unit(members[0]).collective, AllGatherOp):
            need_time = timeline.at(need, extra)
            latest_start = need_time - self.lead(members, follow)
            # Issue so that the copy-in is done when the stream can start.
            target = (latest_start if free <= latest_start else free) - copy_in
            issue = min(timeline.latest_slot(ready, need, target, extra), need)
            start = max(free, timeline.at(issue, extra) + copy_in)
            end = start + duration
            stall = max(0.0, end - (need_time + copy_in))
            delays = ((issue, copy_in), (need, stall + copy_out))
            return Step(tuple(members), issue, need, end, delays)
        start = max(free, timeline.at(ready, extra) + copy_in)
        end = start + duration
        inner = (*extra, (ready, copy_in))
        finish = timeline.earliest_slot(ready, need, end, inner)
        stall = max(0.0, end - timeline.at(finish, inner))
        return Step(tuple(members), ready, finish, end, ((ready, copy_in), (finish, stall)))

    def run(self, chain: Sequence[int], cap: int | None, merge: bool) -> list[Step]:
        # Per position: the stream time of the chain from there on, one collective at a time;
        # and the lead of that collective when every later one is on its own.
        rest = [0.0] * (len(chain) + 1)
        leads: list[Follow] = [None] * (len(chain) + 1)
        for position in reversed(range(len(chain))):
            rest[position] = rest[position + 1] + self.duration([chain[position]])
            lead = self.lead([chain[position]], leads[position + 1])
            leads[position] = (self.unit(chain[position]).need, lead)
        # The compute after the chain's last use follows its stream work too.
        last_need = max(self.unit(number).need for number in chain)
        tail = self.timeline.base[-1] - self.timeline.base[last_need]
        steps: list[Step] = []
        free = 0.0
        current = [chain[0]]
        for position in range(1, len(chain)):
            number = chain[position]
            candidate = [*current, number]
            fits = cap is None or bucket_bytes(self.unit(m) for m in candidate) <= cap
            window = min(position + 1 + LOOKAHEAD, len(chain))
            upcoming = chain[position + 1 : window]
            after = (rest[window] + tail, leads[window])
            if merge and fits and self._merge_wins(current, number, upcoming, free, after):
                current = candidate
                continue
            step = self.step(current, free, follow=leads[position])
            self.timeline.add(step.delays)
            steps.append(step)
            free = step.end
            current = [number]
        step = self.step(current, free)
        self.timeline.add(step.delays)
        steps.append(step)
        return steps

    def _path(
        self, buckets: Sequence[Sequence[int]], free: float, after: tuple[float, Follow]
    ) -> tuple[float, ...]:
        """(estimated step end, delay added, stream end) after running ``buckets`` in order,
        then the rest of the chain (``after``: its stream work plus trailing compute, and the
        lead of its first collective)."""
        beyond, follow = after
        follows: list[Follow] = []
        for members in reversed(buckets):
            follows.append(follow)
            follow = (min(self.unit(m).need for m in members), self.lead(members, follow))
        delays: list[Delay] = []
        for members, following in zip(buckets, reversed(follows), strict=True):
            step = self.step(members, free, delays, following)
            delays += step.delays
            free = step.end
        added = sum(amount for _, amount in delays)
        compute_end = self.timeline.base[-1] + self.timeline.total_delay + added
        return max(compute_end, free + beyond), added, free

    def _merge_wins(
        self,
        current: list[int],
        number: int,
        upcoming: Sequence[int],
        free: float,
        after: tuple[float, Follow],
    ) -> bool:
        """Whether merging ``number`` into ``current`` gives an earlier estimated step end (then
        less delay, then an earlier stream end), simulating the next few collectives too: a copy
        the compute stream would have spent waiting anyway costs nothing when the stream is the
        bottleneck, and latency saved counts only then."""
        later = [[u] for u in upcoming]
        separate = self._path([current, [number], *later], free, after)
        merged = self._path([[*current, number], *later], free, after)
        for merged_value, separate_value in zip(merged, separate, strict=True):
            if merged_value < separate_value - _EPSILON:
                return True
            if merged_value > separate_value + _EPSILON:
                return False
        return False


def skeleton_times(layout: Layout, cost_model: CostModel) -> list[float]:
    times = [0.0]
    for op in layout.skeleton:
        times.append(times[-1] + cost_model.op_time(op))
    return times


def plan_auto(layout: Layout, cost_model: CostModel, cap: int | None, merge: bool) -> list[Step]:
    """The buckets and slots of every FSDP chain: all-gathers first, then reduce-scatters."""
    sweep = Sweep(layout, cost_model, Timeline(skeleton_times(layout, cost_model)))
    units = layout.units
    chains = sorted(
        candidate_chains(layout).values(), key=lambda c: units[c[0]].role is not Role.FSDP_GATHER
    )
    steps: list[Step] = []
    for chain in chains:
        gathers = units[chain[0]].role is Role.FSDP_GATHER
        ordered = sorted(
            chain, key=lambda u: (units[u].need if gathers else units[u].ready, units[u].order)
        )
        steps += sweep.run(ordered, cap, merge)
    return steps


def placed_function(layout: Layout, steps: Sequence[Step], budget: float | None) -> Func | None:
    """The function for a plan, or None when it cannot be made to fit the budget. Over budget,
    units move home first (``fit_budget``); then the largest bucket live at the peak is split
    in two halves (which may then move home), until the plan fits or no bucket is left."""
    steps = list(steps)
    while True:
        bucketed, origin = apply_buckets(layout, [list(step.members) for step in steps])
        placement = home_placement(bucketed)
        by_first = {step.members[0]: step for step in steps}
        for number, old in enumerate(origin):
            if old in by_first:
                placement[number] = Slots(by_first[old].issue, by_first[old].finish)
        enforce(bucketed, placement, monotone=False)
        if fit_budget(bucketed, placement, budget, monotone=False):
            return build_function(bucketed, placement)
        emitted = emit(bucketed, placement)
        peak = memory_profile(emitted.ops, layout.func.args).peak_index
        live = [
            number
            for number, (first, last) in enumerate(emitted.spans)
            if first <= peak <= last and len(bucketed.units[number].members) > 1
        ]
        if not live:
            return None
        largest = max(live, key=lambda n: (bucket_bytes([bucketed.units[n]]), -n))
        split = by_first[origin[largest]]
        position = steps.index(split)
        half = (len(split.members) + 1) // 2
        steps[position : position + 1] = [
            attrs.evolve(split, members=split.members[:half]),
            attrs.evolve(split, members=split.members[half:]),
        ]


def auto_bucket(
    func: Func, layout: Layout, cost_model: CostModel, cap: int | None, budget: float | None
) -> Func:
    candidates: list[Func] = []
    input_peak = memory_profile(flatten(func).ops, func.args).peak_bytes
    if budget is None or input_peak <= budget:
        candidates.append(func)
    for merge in (False, True):
        steps = plan_auto(layout, cost_model, cap, merge)
        placed = placed_function(layout, steps, budget)
        if placed is not None:
            candidates.append(placed)
    if not candidates:
        return func
    scores = []
    for position, candidate in enumerate(candidates):
        report = simulate_ops(candidate.name, flatten(candidate).ops, candidate.args, cost_model)
        scores.append((round(report.step_ms, 9), report.peak_memory_bytes, position))
    return candidates[min(scores)[2]]
