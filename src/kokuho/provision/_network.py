"""A table with its totals as a circulation, and which hidden cells its shown figures pin down.

Every cell of a two-way table with row totals, column totals and a grand total is an arc of
one directed graph whose flow is the cell's count, and the totals make it a circulation:

- interior cell (i, j): row node ``R i`` → column node ``C j``;
- row total i: the total-column node ``C*`` → ``R i`` (what enters row i leaves by its cells);
- column total j: ``C j`` → the total-row node ``R*``;
- grand total: ``R*`` → ``C*``.

Flow is conserved at every node exactly when every row and column adds up to its total and
the totals add up to the grand total. A reader of a released table knows the shown arcs and
that each hidden (秘匿) arc carries at least its lower bound (1: zeros are shown, so a hidden
cell is not 0). Two readings of the table differ by a circulation on the hidden arcs, which
splits into simple cycles each feasible on its own (conformal decomposition). So a hidden cell
is *not* pinned down exactly when, from one feasible reading, some cycle of the residual graph
passes through it; :func:`pinned` tests that, one breadth-first search per hidden cell.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Node = tuple[str, int]
#: The total-row node ``R*`` and the total-column node ``C*``.
TOTAL_ROW: Node = ("R", -1)
TOTAL_COLUMN: Node = ("C", -1)
#: A cell's place: (row, column), with -1 for the totals (``(-1, -1)`` is the grand total).
Cell = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Arc:
    tail: Node
    head: Node


def arc_of(cell: Cell) -> Arc:
    """The arc carrying ``cell``'s count (see the module docstring)."""
    row, column = cell
    if row >= 0 and column >= 0:
        return Arc(("R", row), ("C", column))
    if row >= 0:  # row total
        return Arc(TOTAL_COLUMN, ("R", row))
    if column >= 0:  # column total
        return Arc(("C", column), TOTAL_ROW)
    return Arc(TOTAL_ROW, TOTAL_COLUMN)


def _reachable(
    start: Node, goal: Node, steps: Mapping[Node, list[tuple[Node, Cell]]], skip: Cell
) -> bool:
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt, cell in steps.get(node, ()):
            if cell == skip or nxt in seen:
                continue
            if nxt == goal:
                return True
            seen.add(nxt)
            queue.append(nxt)
    return False


def pinned(flows: Mapping[Cell, int], lower: Mapping[Cell, int]) -> list[Cell]:
    """The hidden cells whose count the shown figures determine, given one feasible reading.

    ``flows`` holds every hidden cell with a count that satisfies all totals (the true counts
    when releasing; a completion found by :func:`complete` when checking a published table);
    ``lower`` their lower bounds. A hidden cell can rise by one when a residual path leads
    from its head back to its tail, and fall by one when it is above its bound and a path
    leads from its tail to its head, in both cases avoiding the cell itself.
    """
    steps: dict[Node, list[tuple[Node, Cell]]] = {}
    for cell, flow in flows.items():
        arc = arc_of(cell)
        steps.setdefault(arc.tail, []).append((arc.head, cell))  # it may carry more
        if flow > lower[cell]:
            steps.setdefault(arc.head, []).append((arc.tail, cell))  # it may carry less
    found = []
    for cell, flow in flows.items():
        arc = arc_of(cell)
        can_rise = _reachable(arc.head, arc.tail, steps, cell)
        can_fall = flow > lower[cell] and _reachable(arc.tail, arc.head, steps, cell)
        if not (can_rise or can_fall):
            found.append(cell)
    return sorted(found, key=_reading_order)


def _reading_order(cell: Cell) -> tuple[int, int, int, int]:
    row, column = cell
    return (row < 0, row, column < 0, column)


def complete(
    shown: Mapping[Cell, int], hidden: Iterable[Cell], lower: Mapping[Cell, int]
) -> dict[Cell, int] | None:
    """Counts for the ``hidden`` cells that make every total add up, or None when the shown
    figures admit none (the table does not add up). A maximum flow from the nodes with too
    much inflow to those with too little, over the hidden arcs, each at least its bound."""
    hidden = list(hidden)
    balance: dict[Node, int] = {}
    for cell, count in [*shown.items(), *((c, lower[c]) for c in hidden)]:
        arc = arc_of(cell)
        balance[arc.head] = balance.get(arc.head, 0) + count
        balance[arc.tail] = balance.get(arc.tail, 0) - count
    need = sum(b for b in balance.values() if b > 0)
    routed, per_arc = _max_flow(balance, [arc_of(c) for c in hidden])
    if routed != need:
        return None
    return {cell: lower[cell] + per_arc.get(arc_of(cell), 0) for cell in hidden}


_SOURCE: Node = ("S", 0)
_SINK: Node = ("T", 0)


def _max_flow(balance: Mapping[Node, int], arcs: Sequence[Arc]) -> tuple[int, dict[Arc, int]]:
    """Edmonds–Karp: a node with surplus inflow must send it on along hidden arcs (unbounded
    above) to a node short of inflow."""
    capacity: dict[tuple[Node, Node], int] = {}
    neighbours: dict[Node, set[Node]] = {}
    unbounded = sum(abs(b) for b in balance.values()) + 1

    def add(tail: Node, head: Node, cap: int) -> None:
        capacity[(tail, head)] = capacity.get((tail, head), 0) + cap
        capacity.setdefault((head, tail), 0)
        neighbours.setdefault(tail, set()).add(head)
        neighbours.setdefault(head, set()).add(tail)

    for node, surplus in balance.items():
        if surplus > 0:
            add(_SOURCE, node, surplus)
        elif surplus < 0:
            add(node, _SINK, -surplus)
    for arc in arcs:
        add(arc.tail, arc.head, unbounded)
    original = dict(capacity)
    routed = 0
    while True:
        parent: dict[Node, Node] = {_SOURCE: _SOURCE}
        queue = deque([_SOURCE])
        while queue and _SINK not in parent:
            node = queue.popleft()
            for nxt in neighbours.get(node, ()):
                if nxt not in parent and capacity[(node, nxt)] > 0:
                    parent[nxt] = node
                    queue.append(nxt)
        if _SINK not in parent:
            break
        path = []
        node = _SINK
        while node != _SOURCE:
            path.append((parent[node], node))
            node = parent[node]
        push = min(capacity[edge] for edge in path)
        for tail, head in path:
            capacity[(tail, head)] -= push
            capacity[(head, tail)] += push
        routed += push
    used = {
        arc: max(0, original[(arc.tail, arc.head)] - capacity[(arc.tail, arc.head)]) for arc in arcs
    }
    return routed, used
