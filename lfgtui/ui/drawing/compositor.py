"""A compositor that renders only the parts of the screen an update sends.

Textual's compositor paints a screen update front to back: every widget whose clip (its parent's
visible area) overlaps the box around all changes is asked for all its lines, every line on a
changed row is cut where the widgets on it meet, and the first widget to fill a piece wins; only
the pieces within the changed spans are then sent. The panes' containers, the grid and the screen
sit behind the pane bodies, the summary bar and the footer are clipped by the whole screen, and a
frame that draws 8 of 16 panes changes rows that the other 8 share: a pane body that scrolled had
all of those render and cut lines that were thrown away. This one asks a widget only for the rows
where it still fills a piece that the update shows. What the terminal shows is the same (tests/ui/
test_compositor.py compares it with Textual's): only cursor moves with nothing written after them
are left out.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import cast

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

Wanted = Callable[[int, list[int]], list[int]]
"""Of a row's cuts (all but its last, the screen's width, start a piece), those the update sends."""

KEPT_PLANS = 512
"""How many changed boxes' plans a compositor keeps for its current layout before it forgets them."""


@dataclass(frozen=True, slots=True)
class Fill:
    """One row of a widget's lines cut into pieces, and the pieces it fills (cut, index of the piece)."""

    index: int
    y: int
    cuts: list[int]
    fills: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Draw:
    """The lines asked of one widget (`crop`, in its own coordinates) and the rows they fill."""

    widget: Widget
    crop: Region
    rows: list[Fill]


@dataclass(frozen=True, slots=True)
class Plan:
    """What an update of one set of changed boxes renders on one layout: which rows send pieces
    (each row's cuts but the last), what each widget is asked for and which pieces it fills, the
    spans sent and each row's piece ends. Only the lines themselves change from frame to frame."""

    rows: list[tuple[int, list[int]]]
    draws: list[Draw]
    spans: list[tuple[int, int, int]]
    ends: list[list[int]]


class CoveredCompositor(Compositor):
    """Textual's `Compositor`, rendering no line that no changed span shows or a widget in front hides.

    A pane body that follows its tail changes the same box every frame: which widget fills which
    piece of which row is worked out once per layout and changed box (a `Plan`), and each frame only
    asks the widgets for their lines and cuts them where the plan says.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[frozenset[Region], Plan] = {}
        self._plans_for: tuple[list[list[int]], dict[Widget, tuple[Region, Region]]] = ([], {})
        """The layout (`cuts`, `visible_widgets`) `_plans` were made on, as Textual last made it."""

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not regions:
            return None
        cuts, visible = self.cuts, self.visible_widgets
        made_for, plans = self._plans_for, self._plans
        if made_for[0] is not cuts or made_for[1] is not visible:
            # Textual makes the layout anew whenever a widget's is refreshed (a body that grew):
            # plans hold while every widget is where it was, in the same order front to back
            if made_for[0] != cuts or list(made_for[1].items()) != list(visible.items()):
                plans.clear()
            self._plans_for = (cuts, visible)
        key = frozenset(regions)
        plan = plans.get(key)
        if plan is None and len(regions) > 1:
            plan = self._composed(regions)
            if plan is not None:
                self._keep(key, plan)
        chops = None if plan is None else self._replay(plan)
        if chops is None:
            plans.pop(key, None)
            chops, plan = self._partial(regions)
            if plan is not None:
                self._keep(key, plan)
                return ChopsUpdate(chops, plan.spans, plan.ends)
            return ChopsUpdate(chops, list(self._regions_to_spans(regions)), [row[1:] for row in cuts])
        return ChopsUpdate(chops, plan.spans, plan.ends)

    def _keep(self, key: frozenset[Region], plan: Plan) -> None:
        """Keep `plan` for `key`, forgetting the oldest kept once there are `KEPT_PLANS`."""
        plans = self._plans
        if len(plans) >= KEPT_PLANS:
            del plans[next(iter(plans))]
        plans[key] = plan

    def _composed(self, regions: set[Region]) -> Plan | None:
        """The plan of boxes that changed together, put together from each box's own (made when it
        has none yet), when no two overlap: which widget fills a piece depends on the piece, not on
        what else changed. The panes a frame draws differ from frame to frame, so their sets are
        rarely the same twice, while each pane's box is. None when two overlap, or a box's plan
        cannot be made (a widget drew fewer lines than asked)."""
        ordered = sorted(regions)
        if any(a.overlaps(b) for a, b in combinations(ordered, 2)):
            return None
        rows: dict[int, list[int]] = {}
        draws: list[Draw] = []
        ends: list[list[int]] = []
        for region in ordered:
            one = frozenset((region,))
            plan = self._plans.get(one)
            if plan is None:
                _chops, plan = self._partial({region})
                if plan is None:
                    return None
                self._keep(one, plan)
            rows.update(plan.rows)
            draws += plan.draws
            ends = plan.ends
        return Plan(sorted(rows.items()), draws, list(self._regions_to_spans(regions)), ends)

    def _partial(self, regions: set[Region]) -> tuple[Sequence[Mapping[int, Strip | None]], Plan | None]:
        """The pieces an update of `regions` sends, and its plan when every widget drew every line."""
        crop = Region.from_union(list(regions)).intersection(self.size.region)
        spans = list(self._regions_to_spans(regions))
        by_row: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            by_row.setdefault(y, []).append((x1, x2))

        def wanted(y: int, cuts: list[int]) -> list[int]:
            # ChopsUpdate also sends a piece that starts where a span ends, as a cursor move and
            # nothing else: skipped here (a pane body's span ends where its container's padding
            # starts, which had the container render every body row for that move)
            ranges = by_row.get(y)
            if not ranges:
                return []
            pieces = pairwise(cuts)
            return [x for x, end in pieces if any(x < x2 and end > x1 for x1, x2 in ranges)]

        chops, rows, draws = self._chops(crop, wanted)
        if draws is None:
            return chops, None
        return chops, Plan(rows, draws, spans, [row[1:] for row in self.cuts])

    def _replay(self, plan: Plan) -> Sequence[Mapping[int, Strip | None]] | None:
        """`plan`'s pieces filled with the widgets' lines now, or None if a widget drew fewer lines
        or narrower ones than when it was made (what `_chops` then does depends on them)."""
        chops: list[dict[int, Strip | None]] = [{} for _ in self.cuts]
        for y, starts in plan.rows:
            chops[y] = dict.fromkeys(starts)
        for draw in plan.draws:
            strips = draw.widget.render_lines(draw.crop)
            if len(strips) < draw.crop.height:
                return None
            for row in draw.rows:
                strip = strips[row.index]
                cuts = row.cuts
                if len(cuts) == 1 and strip.cell_length == cuts[0]:
                    pieces: Sequence[Strip] = (strip,)  # what `divide` gives: the whole line
                else:
                    pieces = strip.divide(cuts)
                    if len(pieces) < len(cuts):
                        return None
                line = chops[row.y]
                for cut, index in row.fills:
                    line[cut] = pieces[index]
        return chops

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        chops, _rows, _draws = self._chops(crop, lambda y, cuts: cuts[:-1] if is_rendered_line(y) else [])
        return cast("Sequence[Mapping[int, Strip]]", chops)

    def _chops(
        self, crop: Region, wanted: Wanted
    ) -> tuple[Sequence[Mapping[int, Strip | None]], list[tuple[int, list[int]]], list[Draw] | None]:
        """Each row's pieces (by the cut they start at) within `crop`: those `wanted` are filled.
        With them, the rows that have pieces and what each widget drew where (a `Plan`'s), the
        latter None if a widget drew fewer lines or pieces than asked: then which widget fills a
        piece depends on what they drew."""
        cuts = self.cuts
        bottom = min(crop.bottom, len(cuts))
        chops: list[dict[int, Strip | None]] = [{} for _ in cuts]
        missing: list[set[int]] = [set() for _ in cuts]  # per row, the wanted pieces not filled yet
        rows: list[tuple[int, list[int]]] = []
        for y in range(crop.y, bottom):
            missing[y] = set(wanted(y, cuts[y]))
            if missing[y]:
                rows.append((y, cuts[y][:-1]))
                chops[y] = dict.fromkeys(cuts[y][:-1])
        draws: list[Draw] | None = []
        crop_overlaps = crop.overlaps
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            if not crop_overlaps(shown):
                continue
            first_cut, last_cut = shown.column_span
            needed: list[tuple[int, list[int]]] = []
            for y in range(max(shown.y, crop.y), min(shown.bottom, bottom)):
                if not missing[y]:
                    continue
                row = cuts[y]
                line_cuts = row[bisect_left(row, first_cut) : bisect_right(row, last_cut)]
                if not missing[y].isdisjoint(line_cuts[:-1]):
                    needed.append((y, line_cuts))
            if not needed:
                continue
            top = needed[0][0]
            asked = Region(shown.x - region.x, top - region.y, shown.width, needed[-1][0] - top + 1)
            strips = widget.render_lines(asked)
            filled: list[Fill] = []
            for y, line_cuts in needed:
                if y - top >= len(strips):
                    draws = None
                    break
                line = chops[y]
                relative = [cut - first_cut for cut in line_cuts[1:]]
                pieces = strips[y - top].divide(relative)
                if len(pieces) < len(relative):
                    draws = None
                fills: list[tuple[int, int]] = []
                for index, (cut, piece) in enumerate(zip(line_cuts, pieces, strict=False)):
                    if line[cut] is None:
                        line[cut] = piece
                        missing[y].discard(cut)
                        fills.append((cut, index))
                filled.append(Fill(y - top, y, relative, fills))
            if draws is not None:
                draws.append(Draw(widget, asked, filled))
        return chops, rows, draws
