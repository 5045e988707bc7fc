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
from itertools import pairwise
from typing import cast

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip

Wanted = Callable[[int, list[int]], list[int]]
"""Of a row's cuts (all but its last, the screen's width, start a piece), those the update sends."""


class CoveredCompositor(Compositor):
    """Textual's `Compositor`, rendering no line that no changed span shows or a widget in front hides."""

    def render_partial_update(self) -> ChopsUpdate | None:
        regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not regions:
            return None
        crop = Region.from_union(regions).intersection(self.size.region)
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

        chops = self._chops(crop, wanted)
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in self.cuts])

    def _render_chops(
        self, crop: Region, is_rendered_line: Callable[[int], bool]
    ) -> Sequence[Mapping[int, Strip]]:
        return self._chops(crop, lambda y, cuts: cuts[:-1] if is_rendered_line(y) else [])

    def _chops(self, crop: Region, wanted: Wanted) -> Sequence[Mapping[int, Strip]]:
        """Each row's pieces (by the cut they start at) within `crop`: those `wanted` are filled."""
        cuts = self.cuts
        bottom = min(crop.bottom, len(cuts))
        chops: list[dict[int, Strip | None]] = [{} for _ in cuts]
        missing: list[set[int]] = [set() for _ in cuts]  # per row, the wanted pieces not filled yet
        for y in range(crop.y, bottom):
            missing[y] = set(wanted(y, cuts[y]))
            if missing[y]:
                chops[y] = dict.fromkeys(cuts[y][:-1])
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
            strips = widget.render_lines(
                Region(shown.x - region.x, top - region.y, shown.width, needed[-1][0] - top + 1)
            )
            for y, line_cuts in needed:
                if y - top >= len(strips):
                    break
                line = chops[y]
                pieces = strips[y - top].divide([cut - first_cut for cut in line_cuts[1:]])
                for cut, piece in zip(line_cuts, pieces, strict=False):
                    if line[cut] is None:
                        line[cut] = piece
                        missing[y].discard(cut)
        return cast("Sequence[Mapping[int, Strip]]", chops)
