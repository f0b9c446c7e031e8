"""Binary mask slices as closed planar polygons, for RT Structure Sets.

Each polygon runs along pixel edges (the boundary between tumour and background pixels), so a point-in-polygon test at
pixel centres with the even-odd rule (:func:`cmedl_bench.data.rtstruct.fill_polygon`, and the rasterisers of
treatment-planning systems) gives back exactly the mask: no centre lies on an edge. Holes are loops of their own,
which the even-odd rule subtracts. Collinear vertices are dropped, so a straight run of edges is one segment.

Vertices are (column, row) continuous index coordinates of the slice: pixel (r, c) has its centre at (c, r) and its
corners at (c +- 0.5, r +- 0.5).
"""

from __future__ import annotations

import numpy as np

#: pixel side -> (start corner, end corner) offsets in (column, row) corner units, clockwise on screen (row down)
_SIDES = {
    (-1, 0): ((0, 0), (1, 0)),  # top: neighbour above
    (0, 1): ((1, 0), (1, 1)),  # right
    (1, 0): ((1, 1), (0, 1)),  # bottom
    (0, -1): ((0, 1), (0, 0)),  # left
}


def _boundary_edges(mask: np.ndarray) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Directed pixel edges between a foreground pixel and a background (or outside) neighbour, in corner units."""
    padded = np.pad(mask.astype(bool), 1)
    inner = padded[1:-1, 1:-1]
    edges = []
    for (dr, dc), ((c0, r0), (c1, r1)) in _SIDES.items():
        neighbour = padded[1 + dr:padded.shape[0] - 1 + dr, 1 + dc:padded.shape[1] - 1 + dc]
        rows, cols = np.nonzero(inner & ~neighbour)
        edges += [((c + c0, r + r0), (c + c1, r + r1)) for r, c in zip(rows.tolist(), cols.tolist())]
    return edges


def _chain(edges: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    """Join directed edges into closed loops (every corner has as many edges in as out)."""
    outgoing: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for start, end in edges:
        outgoing.setdefault(start, []).append(end)
    loops = []
    for start in list(outgoing):
        while outgoing.get(start):
            loop, corner = [start], outgoing[start].pop()
            while corner != start:
                loop.append(corner)
                corner = outgoing[corner].pop()
            loops.append(loop)
    return loops


def _without_collinear(loop: list[tuple[int, int]]) -> list[tuple[int, int]]:
    points = np.asarray(loop)
    before, after = np.roll(points, 1, axis=0), np.roll(points, -1, axis=0)
    turn = (points - before)[:, 0] * (after - points)[:, 1] - (points - before)[:, 1] * (after - points)[:, 0]
    return [tuple(p) for p in points[turn != 0].tolist()]


def mask_polygons(mask: np.ndarray) -> list[np.ndarray]:
    """The closed polygons of a 2D (row, column) mask: a list of (N, 2) arrays of (column, row) vertices."""
    polygons = []
    for loop in _chain(_boundary_edges(mask)):
        corners = np.asarray(_without_collinear(loop), dtype=float)
        polygons.append(corners - 0.5)  # corner (c, r) is at continuous index (c - 0.5, r - 0.5)
    return polygons
