"""The precomputed lookup structure behind :class:`geo.lookup.locator.GridLocator`.

A regular lon/lat lattice (cells of about ``cell_m`` metres) over the grids' extent.
Every cell is one of:

* **quiet**: no grid border comes near it, so the whole cell lies in one face of the
  map and its answer (a grid row, or -1 for "no grid") is stored; no geometry test;
* **border**: some border passes within a hair (``MARGIN``) of it; the rows of the
  grids that may cover part of it are stored. Most border cells (95 % on the sample)
  are cut by one straight edge only: each side is then one face, its answer is
  stored, and a point's side is found by an orientation test whose floating-point
  error is bounded (Shewchuk's filter). A point too close to that line to be sure,
  or in a cell with a vertex or several edges, gets an exact point-in-polygon test
  (GEOS, robust predicates, prepared geometries) against the candidates in code
  order.

Why a plain lattice and not H3: the cell of a point is two subtractions, two
multiplications and a gather, vectorised over any number of points (tens of millions
per second), while h3-py computes one cell per Python call (~0.5 M/s measured here).

Exactness does not depend on the lattice being fine, only on the classification of
quiet cells being safe. A cell is quiet only if no border segment touches the cell
grown by ``MARGIN`` cell widths (1e-6: 15 µm for 15 m cells), far more than the
rounding of ``(x - x0) * inv_dx`` (about 1e-12 cell widths), so every point is filed
under a cell whose grown box truly holds it. Consecutive quiet cells
of a lattice row lie in the same face, so the build needs one point-in-polygon test
per run of quiet cells, not one per cell.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

# Cell-width fraction by which cells are grown before asking "does a border touch it?"
MARGIN = 1e-6
# Relative error bound of the orientation filter (Shewchuk's is 3.3e-16; kept wider).
ORIENT_ERR = 1e-15
# Mean metres per degree of latitude; only used to size cells, never to measure.
_M_PER_DEG_LAT = 111_132.95


def ring_segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ring segments: (n, 4) array x1, y1, x2, y2 and the row of each one's grid."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, coord_of = shapely.get_coordinates(rings, return_index=True)
    same = coord_of[:-1] == coord_of[1:]
    segs = np.hstack([xy[:-1][same], xy[1:][same]])
    return segs, part_of[ring_of[coord_of[:-1][same]]]


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-item counts: the item index of every expanded slot and its rank in the item."""
    counts = np.maximum(counts, 0)
    item = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return item, np.arange(len(item)) - starts[item]


def _crossings(
    u1: np.ndarray, v1: np.ndarray, u2: np.ndarray, v2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells touched where segments cross the lattice lines u = k (k integer).

    Returns (segment index, column, row) triples: for each line k the segment meets
    (grown by MARGIN), the cells on both sides of the line, in every row the segment
    occupies within MARGIN of the line. Swap u and v for the other family of lines.
    """
    m = MARGIN
    lo, hi = np.minimum(u1, u2), np.maximum(u1, u2)
    k0 = np.ceil(lo - m).astype(np.int64)
    k1 = np.floor(hi + m).astype(np.int64)
    s, rank = _expand(k1 - k0 + 1)
    k = k0[s] + rank
    du = u2[s] - u1[s]
    flat = du == 0
    safe = np.where(flat, 1.0, du)
    ta = np.clip((np.maximum(k - m, lo[s]) - u1[s]) / safe, 0.0, 1.0)
    tb = np.clip((np.minimum(k + m, hi[s]) - u1[s]) / safe, 0.0, 1.0)
    ta = np.where(flat, 0.0, ta)
    tb = np.where(flat, 1.0, tb)
    dv = v2[s] - v1[s]
    va, vb = v1[s] + ta * dv, v1[s] + tb * dv
    r0 = np.floor(np.minimum(va, vb) - 2 * m).astype(np.int64)
    r1 = np.floor(np.maximum(va, vb) + 2 * m).astype(np.int64)
    j, rank = _expand(r1 - r0 + 1)
    rows = r0[j] + rank
    seg = np.concatenate([s[j], s[j]])
    cols = np.concatenate([k[j] - 1, k[j]])
    return seg, cols, np.concatenate([rows, rows])


def orientation(
    ax: np.ndarray,
    ay: np.ndarray,
    bx: np.ndarray,
    by: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Side of p from the line a→b (> 0: left) and whether the sign is certain.

    The determinant is computed in plain doubles; its sign is trusted only when its
    size beats a bound on the rounding error (Shewchuk's orient2d filter, bound
    (3 + 16ε)ε·(|l| + |r|), here rounded up to ``ORIENT_ERR``). Uncertain points are
    left to GEOS's robust predicates.
    """
    left = (bx - ax) * (py - ay)
    right = (by - ay) * (px - ax)
    det = left - right
    return det, np.abs(det) > ORIENT_ERR * (np.abs(left) + np.abs(right))


def _first_covering(tree: shapely.STRtree, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smallest row covering each point (rows are in code order), -1 where none does."""
    pi, gi = tree.query(shapely.points(x, y), predicate="covered_by")
    none = np.iinfo(np.int32).max
    out = np.full(len(x), none, dtype=np.int32)
    np.minimum.at(out, pi, gi.astype(np.int32))
    out[out == none] = -1
    return out


class RasterIndex:
    """Lattice of quiet and border cells over a list of grid geometries (rows).

    Parameters
    ----------
    geoms
        Grid (Multi)Polygons in lon/lat, in row order; rows are ranked by position, so
        the first covering candidate in row order wins.
    cell_m
        Wanted cell size in metres (cells are square in metres at the centre latitude).
    max_cells
        Upper bound on the lattice size; the cell grows when the extent needs more.
    """

    def __init__(self, geoms: np.ndarray, cell_m: float = 15.0, max_cells: int = 1 << 23):
        self.geoms = geoms
        shapely.prepare(geoms)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if len(geoms) == 0 or not ok.any():
            self._empty()
            return
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms[ok])
        lat = math.radians((ymin + ymax) / 2)
        dy = cell_m / _M_PER_DEG_LAT
        dx = dy / max(math.cos(lat), 0.01)
        pad = 2
        nx = math.ceil((xmax - xmin) / dx) + 2 * pad
        ny = math.ceil((ymax - ymin) / dy) + 2 * pad
        if nx * ny > max_cells:
            grow = math.sqrt(nx * ny / max_cells) * 1.01
            dx, dy = dx * grow, dy * grow
            nx = math.ceil((xmax - xmin) / dx) + 2 * pad
            ny = math.ceil((ymax - ymin) / dy) + 2 * pad
        self.x0, self.y0 = xmin - pad * dx, ymin - pad * dy
        self.dx, self.dy = dx, dy
        self.inv_dx, self.inv_dy = 1.0 / dx, 1.0 / dy
        self.nx, self.ny = nx, ny
        self._build(geoms)

    def _empty(self) -> None:
        self.x0 = self.y0 = 0.0
        self.dx = self.dy = self.inv_dx = self.inv_dy = 1.0
        self.nx = self.ny = 0
        self.table = np.full(1, -1, dtype=np.int32)
        self.cand_ptr = np.zeros(1, dtype=np.int32)
        self.cand_rows = np.zeros(0, dtype=np.int32)
        self.hp_cell = np.zeros(0, dtype=np.int32)
        self.hp_line = np.zeros((0, 4))
        self.hp_answer = np.zeros((0, 2), dtype=np.int32)
        self.n_runs = 0

    def _centres(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col, row = flat % self.nx, flat // self.nx
        return self.x0 + (col + 0.5) * self.dx, self.y0 + (row + 0.5) * self.dy

    def _build(self, geoms: np.ndarray) -> None:
        nx, ny = self.nx, self.ny
        segs, seg_row = ring_segments(geoms)
        mark_flat, mark_seg = self._mark(segs)
        n_geoms = len(geoms)
        keys = np.unique(mark_flat * n_geoms + seg_row[mark_seg])
        border_flat = np.unique(keys // n_geoms)

        # A grid may cover part of a border cell without its own border touching it
        # (overlapping or nested grids): it then covers the whole cell, centre included.
        tree = shapely.STRtree(geoms)
        pi, gi = tree.query(shapely.points(*self._centres(border_flat)), predicate="covered_by")
        keys = np.union1d(keys, border_flat[pi] * n_geoms + gi)
        pair_flat, pair_row = keys // n_geoms, keys % n_geoms
        b = np.searchsorted(border_flat, pair_flat)
        self.cand_rows = pair_row.astype(np.int32)
        self.cand_ptr = np.searchsorted(b, np.arange(len(border_flat) + 1)).astype(np.int32)
        self._half_planes(segs, mark_flat, mark_seg, border_flat)

        # Quiet cells: one answer per run of consecutive quiet cells in a lattice row.
        border = np.zeros(nx * ny, dtype=bool)
        border[border_flat] = True
        prev = np.empty_like(border)
        prev[1:] = border[:-1]
        prev.reshape(ny, nx)[:, 0] = True
        start = ~border & prev
        run_flat = np.flatnonzero(start)
        run_of = np.cumsum(start, dtype=np.int32) - 1
        run_val = _first_covering(tree, *self._centres(run_flat))

        table = np.empty(nx * ny + 1, dtype=np.int32)
        table[:-1] = run_val[run_of]
        table[border_flat] = -2 - np.arange(len(border_flat), dtype=np.int32)
        table[-1] = -1  # sentinel for points outside the lattice
        self.table = table
        self.n_runs = len(run_flat)

    def _mark(self, segs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cell, segment) pairs: every cell whose MARGIN-grown box a segment touches."""
        nx, ny, m = self.nx, self.ny, MARGIN
        u = (segs[:, 0::2] - self.x0) * self.inv_dx  # same arithmetic as the lookup
        v = (segs[:, 1::2] - self.y0) * self.inv_dy
        s1, c1, r1 = _crossings(u[:, 0], v[:, 0], u[:, 1], v[:, 1])
        s2, r2, c2 = _crossings(v[:, 0], u[:, 0], v[:, 1], u[:, 1])
        # Cells within 2·MARGIN of each vertex (every vertex starts some segment).
        cs = [np.floor(u[:, 0] - 2 * m), np.floor(u[:, 0] + 2 * m)]
        rs = [np.floor(v[:, 0] - 2 * m), np.floor(v[:, 0] + 2 * m)]
        s3 = np.tile(np.arange(len(segs)), 4)
        c3 = np.concatenate([cs[0], cs[1], cs[0], cs[1]]).astype(np.int64)
        r3 = np.concatenate([rs[0], rs[0], rs[1], rs[1]]).astype(np.int64)
        cols = np.clip(np.concatenate([c1, c2, c3]), 0, nx - 1)
        rows = np.clip(np.concatenate([r1, r2, r3]), 0, ny - 1)
        return rows * nx + cols, np.concatenate([s1, s2, s3])

    def _half_planes(
        self,
        segs: np.ndarray,
        mark_flat: np.ndarray,
        mark_seg: np.ndarray,
        border_flat: np.ndarray,
    ) -> None:
        """Border cells cut by one straight border only: store the line and both answers.

        Most border cells are crossed by a single edge (shared by two grids, stored
        once per grid, possibly reversed). Each side of it lies in one face of the map,
        so a point's answer is that of its side, decided by an orientation test with
        a floating-point error bound; only points too close to the line to be sure
        (including those exactly on it) go on to the geometry test.
        """
        nb, m = len(border_flat), MARGIN
        swap = (segs[:, 2] < segs[:, 0]) | ((segs[:, 2] == segs[:, 0]) & (segs[:, 3] < segs[:, 1]))
        canon = np.where(swap[:, None], segs[:, [2, 3, 0, 1]], segs)
        lines, line_of = np.unique(canon, axis=0, return_inverse=True)
        pairs = np.unique(mark_flat * len(lines) + line_of.ravel()[mark_seg])
        cell = np.searchsorted(border_flat, pairs // len(lines))
        single = np.flatnonzero(np.bincount(cell, minlength=nb) == 1)
        line = lines[(pairs % len(lines))[np.isin(cell, single)]]
        flat = border_flat[single]
        col, row = (flat % self.nx)[:, None], (flat // self.nx)[:, None]
        # The line must cross the whole cell: no end inside it (a degenerate ring could).
        eu = (line[:, [0, 2]] - self.x0) * self.inv_dx
        ev = (line[:, [1, 3]] - self.y0) * self.inv_dy
        end_in = (eu >= col - 2 * m) & (eu <= col + 1 + 2 * m)
        end_in &= (ev >= row - 2 * m) & (ev <= row + 1 + 2 * m)
        # Probes: the four corners and the centre; one sure probe needed on each side.
        px = self.x0 + (col + np.array([0, 1, 0, 1, 0.5])) * self.dx
        py = self.y0 + (row + np.array([0, 0, 1, 1, 0.5])) * self.dy
        det, sure = orientation(line[:, [0]], line[:, [1]], line[:, [2]], line[:, [3]], px, py)
        left = np.where(sure & (det > 0), np.abs(det), -1.0)
        right = np.where(sure & (det < 0), np.abs(det), -1.0)
        k = np.arange(len(single))
        li, ri = left.argmax(axis=1), right.argmax(axis=1)
        ok = (left[k, li] > 0) & (right[k, ri] > 0) & ~end_in.any(axis=1)
        # The cell's candidate list holds every grid that may cover part of it.
        probes = np.tile(single[ok], 2)
        answers = self._exact(
            probes,
            np.concatenate([px[k, li][ok], px[k, ri][ok]]),
            np.concatenate([py[k, li][ok], py[k, ri][ok]]),
        )
        self.hp_cell = np.full(nb, -1, dtype=np.int32)  # border cell → half-plane entry
        self.hp_cell[single[ok]] = np.arange(ok.sum(), dtype=np.int32)
        self.hp_line = np.ascontiguousarray(line[ok])
        self.hp_answer = answers.astype(np.int32).reshape(2, -1).T.copy()  # left, right

    # -- lookups ---------------------------------------------------------------------

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row of the first covering grid per point (int64), -1 where none covers it."""
        n = len(x)
        if self.nx == 0 or n == 0:
            return np.full(n, -1, dtype=np.int64)
        u = np.subtract(x, self.x0)
        u *= self.inv_dx
        v = np.subtract(y, self.y0)
        v *= self.inv_dy
        ok = u >= 0
        ok &= u < self.nx
        ok &= v >= 0
        ok &= v < self.ny
        with np.errstate(invalid="ignore"):  # NaN and far-off points are masked below
            flat = v.astype(np.int32)
            flat *= self.nx
            flat += u.astype(np.int32)
        np.copyto(flat, len(self.table) - 1, where=~ok)
        val = self.table.take(flat)
        out: np.ndarray = val.astype(np.int64)
        hard = np.flatnonzero(val < -1)
        if len(hard):
            out[hard] = self._border(-2 - val[hard], x[hard], y[hard])
        return out

    def _border(self, cell: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Answers for points in border cells: by side of a single line, else by geometry."""
        out = np.empty(len(cell), dtype=np.int64)
        hp = self.hp_cell[cell]
        fast = np.flatnonzero(hp >= 0)
        h = hp[fast]
        ln = self.hp_line[h]
        det, sure = orientation(ln[:, 0], ln[:, 1], ln[:, 2], ln[:, 3], x[fast], y[fast])
        side = np.where(det > 0, 0, 1)
        out[fast] = self.hp_answer[h, side]
        rest = np.concatenate([np.flatnonzero(hp < 0), fast[~sure]])
        if len(rest):
            out[rest] = self._exact(cell[rest], x[rest], y[rest])
        return out

    def _exact(self, cell: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """First candidate (in row order) of each border cell that covers its point."""
        out = np.full(len(cell), -1, dtype=np.int64)
        pos = self.cand_ptr[cell].astype(np.int64)
        end = self.cand_ptr[cell + 1]
        todo = np.arange(len(cell))
        while len(todo):
            rows = self.cand_rows[pos[todo]]
            # For a point and a polygon, intersects is covers (the closure contains it).
            hit = shapely.intersects_xy(self.geoms[rows], x[todo], y[todo])
            out[todo[hit]] = rows[hit]
            todo = todo[~hit]
            pos[todo] += 1
            todo = todo[pos[todo] < end[todo]]
        return out

    def lookup_one(self, x: float, y: float) -> int:
        """Scalar twin of :meth:`lookup` for single requests (no array overhead)."""
        u = (x - self.x0) * self.inv_dx
        v = (y - self.y0) * self.inv_dy
        if not (0 <= u < self.nx and 0 <= v < self.ny):
            return -1
        val = int(self.table[int(v) * self.nx + int(u)])
        if val >= -1:
            return val
        b = -2 - val
        h = int(self.hp_cell[b])
        if h >= 0:
            ax, ay, bx, by = self.hp_line[h].tolist()
            left, right = (bx - ax) * (y - ay), (by - ay) * (x - ax)
            det = left - right
            if abs(det) > ORIENT_ERR * (abs(left) + abs(right)):
                return int(self.hp_answer[h, 0 if det > 0 else 1])
        rows: list[int] = self.cand_rows[self.cand_ptr[b] : self.cand_ptr[b + 1]].tolist()
        for row in rows:
            if shapely.intersects_xy(self.geoms[row], x, y):
                return row
        return -1

    # -- reporting -------------------------------------------------------------------

    def stats(self) -> dict[str, float]:
        """Size of the structure: cells, border cells, bytes held by the arrays."""
        n_border = len(self.cand_ptr) - 1
        arrays = (self.table, self.cand_ptr, self.cand_rows, self.hp_cell, self.hp_line)
        nbytes = sum(a.nbytes for a in arrays) + self.hp_answer.nbytes
        return {
            "cells": self.nx * self.ny,
            "nx": self.nx,
            "ny": self.ny,
            "cell_dx_deg": self.dx,
            "cell_dy_deg": self.dy,
            "border_cells": n_border,
            "border_share": n_border / max(self.nx * self.ny, 1),
            "candidates": len(self.cand_rows),
            "single_line_cells": len(self.hp_line),
            "quiet_runs": self.n_runs,
            "index_bytes": nbytes,
        }
