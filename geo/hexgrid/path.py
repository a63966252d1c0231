"""Cells a patrol track passes through: exact path filling on the H3 lattice.

Definition: the cells of a track are the cells that the great-circle segments between
consecutive fixes pass through (with a chord longer than 1e-9 cell widths, so a
segment through a cell's corner adds nothing), in the order entered. A pass is one
consecutive run in a cell: entered at the time the segment crosses into it (times
interpolated linearly along the segment) and left when the next pass begins.

How (all numpy, see :mod:`geo.hexgrid.lattice`): inside one icosahedron face the
segment is a straight line through a regular hexagonal lattice. Segments longer than
half the distance between cell centres are cut into pieces shorter than that, so a
piece ends in its start hexagon A or a neighbour B (hexagons that are not neighbours
are ≥ 0.577 centre distances apart), and every hexagon it touches is next to both A
and B: one of the two flanking the edge A|B. The piece meets each convex hexagon in
one interval, and between leaving A and entering B it is inside the flanks, which do
not touch each other — so it crosses at most one. Each flank and B are clipped
against the piece (Cyrus–Beck on the hexagon's three slabs), which says whether the
flank is crossed and when each hexagon is entered. A segment
whose ends lie on different faces (none in China; where they occur, at most a few per
dataset) is densified at 1 m and named by h3 point by point instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo import hexgrid
from geo.hexgrid.lattice import (
    EDGE_NORMALS,
    NEIGHBOURS,
    SQRT3_2,
    cells_for_keys,
    hex_round,
    pack,
    project,
)

MAX_PIECE = 0.5  # lattice units (half a centre-to-centre step)
CHORD_EPS = 1e-9  # lattice units: shorter chords (corner touches) add no cell
CROSS_FACE_STEP_M = 1.0
_NEIGHBOUR_XY = np.column_stack(
    [NEIGHBOURS[:, 0] + 0.5 * NEIGHBOURS[:, 1], NEIGHBOURS[:, 1] * SQRT3_2]
)
# Offset of neighbour m's centre along edge normal k: shifts that slab by this much.
_SHIFT = _NEIGHBOUR_XY @ EDGE_NORMALS.T  # (6, 3), values ±1, ±0.5
# (dq + 1) * 3 + (dr + 1) → neighbour direction 0–5 (-1: not a neighbour)
_DIRECTION = np.full(9, -1, dtype=np.int64)
for _k, (_dq, _dr) in enumerate(NEIGHBOURS.tolist()):
    _DIRECTION[(_dq + 1) * 3 + (_dr + 1)] = _k


@dataclass
class Passes:
    """Passes of all tracks, ordered by track and time."""

    track: np.ndarray  # int64, the caller's track number
    cell: np.ndarray  # int64 H3 cell
    enter_ns: np.ndarray  # int64 ns since 1970 (UTC)
    leave_ns: np.ndarray


class _Slabs:
    """A piece a + t·d against the three slabs of its start hexagon, set up once so
    the start's neighbours can be clipped by shifting (Cyrus–Beck)."""

    def __init__(self, rx: np.ndarray, ry: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> None:
        self.s0: list[np.ndarray] = []
        self.inv: list[np.ndarray] = []
        with np.errstate(divide="ignore"):
            for nx, ny in EDGE_NORMALS.tolist():
                self.s0.append(rx * nx + ry * ny)
                self.inv.append(1.0 / (dx * nx + dy * ny))

    def clip(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[t_in, t_out] of the piece inside neighbour m (per piece) of the start.

        A piece parallel to a slab gets ±inf bounds (in or out); 0·inf = NaN only
        for a piece running exactly along a slab border, which fmax/fmin ignore.
        """
        t_in = np.zeros(len(m))
        t_out = np.ones(len(m))
        with np.errstate(invalid="ignore"):
            for k in range(3):
                shift = _SHIFT[m, k]
                s0, inv = self.s0[k], self.inv[k]
                a = (shift - 0.5 - s0) * inv
                b = (shift + 0.5 - s0) * inv
                np.fmax(t_in, np.fmin(a, b), out=t_in)
                np.fmin(t_out, np.fmax(a, b), out=t_out)
        return t_in, t_out


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    lam1, phi1, lam2, phi2 = np.radians([lon1, lat1, lon2, lat2])
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    )
    return float(2 * 6_371_008.8 * np.arcsin(np.sqrt(h)))


@dataclass
class _Events:
    """Cells entered along segments, in order: segment (its first fix), key, time and a
    point inside the hexagon (lattice xy) for naming it."""

    seg: np.ndarray
    key: np.ndarray
    t: np.ndarray
    rx: np.ndarray
    ry: np.ndarray


def _lattice_events(
    j: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    q: np.ndarray,
    r: np.ndarray,
    face: np.ndarray,
    key: np.ndarray,
    t_ns: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    length: np.ndarray,
) -> _Events:
    """Events of the segments j → j + 1 (all on one face, changing hexagon or long)."""
    k = np.ones(len(j), dtype=np.int64)
    long = length[j] > MAX_PIECE
    k[long] = np.ceil(length[j][long] / (0.9 * MAX_PIECE)).astype(np.int64)
    of = np.repeat(np.arange(len(j)), k)
    i = np.arange(len(of)) - (np.cumsum(k) - k)[of]
    kk = k[of]
    seg = j[of]
    f0, f1 = i / kk, (i + 1) / kk
    sx, sy = x[seg] + f0 * dx[seg], y[seg] + f0 * dy[seg]
    ex, ey = x[seg] + f1 * dx[seg], y[seg] + f1 * dy[seg]
    sq, sr, eq, er = q[seg], r[seg], q[seg + 1], r[seg + 1]
    if long.any():  # round the inner ends of the pieces
        inner = np.flatnonzero(i > 0)
        sq[inner], sr[inner], _ = hex_round(sx[inner], sy[inner], margin=False)
        inner = np.flatnonzero(i < kk - 1)
        eq[inner], er[inner], _ = hex_round(ex[inner], ey[inner], margin=False)
    moved = np.flatnonzero((sq != eq) | (sr != er))
    seg, f0, f1 = seg[moved], f0[moved], f1[moved]
    sq, sr, eq, er = sq[moved], sr[moved], eq[moved], er[moved]
    sx, sy, ex, ey = sx[moved], sy[moved], ex[moved], ey[moved]
    dq, dr = eq - sq, er - sr
    near = (np.abs(dq) <= 1) & (np.abs(dr) <= 1)
    direction = _DIRECTION[np.where(near, (dq + 1) * 3 + (dr + 1), 4)]
    if np.any(direction < 0):  # cannot happen for pieces ≤ MAX_PIECE; keep it loud
        raise AssertionError("path filling: a segment piece skipped a hexagon")
    pdx, pdy = ex - sx, ey - sy
    plen = np.hypot(pdx, pdy)
    slabs = _Slabs(sx - (sq + 0.5 * sr), sy - sr * SQRT3_2, pdx, pdy)
    n = len(seg)
    ev_key = np.empty((n, 3), dtype=np.int64)
    ev_f = np.empty((n, 3))
    hit = np.ones((n, 3), dtype=bool)
    ev_rx = np.empty((n, 3))
    ev_ry = np.empty((n, 3))
    fc = face[seg]
    for slot, turn in enumerate((-1, 1)):
        m = (direction + turn) % 6
        t_in, t_out = slabs.clip(m)
        hit[:, slot] = (t_out - t_in) * plen > CHORD_EPS
        ev_key[:, slot] = pack(fc, sq + NEIGHBOURS[m, 0], sr + NEIGHBOURS[m, 1])
        ev_f[:, slot] = t_in
        mid = 0.5 * (t_in + t_out)
        ev_rx[:, slot] = sx + mid * pdx
        ev_ry[:, slot] = sy + mid * pdy
    ev_f[:, 2] = slabs.clip(direction)[0]
    ev_key[:, 2] = pack(fc, eq, er)
    ev_rx[:, 2], ev_ry[:, 2] = ex, ey
    # At most one flank has a chord (see the module doc); order them anyway.
    swap = hit[:, 0] & hit[:, 1] & (ev_f[:, 1] < ev_f[:, 0])
    for arr in (ev_key, ev_f, ev_rx, ev_ry):
        arr[swap, :2] = arr[swap, 1::-1]
    frac = f0[:, None] + np.clip(ev_f, 0.0, 1.0) * (f1 - f0)[:, None]
    dt = (t_ns[seg + 1] - t_ns[seg]).astype(float)
    ev_t = t_ns[seg][:, None] + np.round(frac * dt[:, None]).astype(np.int64)
    return _Events(
        np.broadcast_to(seg[:, None], (n, 3))[hit],
        ev_key[hit],
        ev_t[hit],
        ev_rx[hit],
        ev_ry[hit],
    )


def _cross_face_events(
    j: np.ndarray, lon: np.ndarray, lat: np.ndarray, t_ns: np.ndarray, res: int
) -> _Events:
    """Segments whose ends are on different faces: densified at 1 m, named by h3."""
    parts: list[tuple[np.ndarray, ...]] = []
    for i in j.tolist():
        dist = _distance_m(lon[i], lat[i], lon[i + 1], lat[i + 1])
        f = np.linspace(0.0, 1.0, max(2, int(np.ceil(dist / CROSS_FACE_STEP_M)) + 1))
        cells = hexgrid.cells_of_each(
            lon[i] + f * (lon[i + 1] - lon[i]), lat[i] + f * (lat[i + 1] - lat[i]), res
        )
        run = np.r_[True, cells[1:] != cells[:-1]]
        times = t_ns[i] + np.round(f[run] * (t_ns[i + 1] - t_ns[i])).astype(np.int64)
        parts.append((np.full(run.sum(), i), -cells[run], times))
    if not parts:
        e = np.empty(0, dtype=np.int64)
        return _Events(e, e, e, np.empty(0), np.empty(0))
    seg, key, t = (np.concatenate(c) for c in zip(*parts, strict=True))
    return _Events(seg, key, t, np.zeros(len(seg)), np.zeros(len(seg)))


def path_passes(
    track: np.ndarray, t_ns: np.ndarray, lon: np.ndarray, lat: np.ndarray, res: int
) -> Passes:
    """Passes along tracks given as fixes sorted by (track, time).

    ``track`` numbers the tracks (equal numbers must be contiguous); a track of one
    fix gives one pass of zero length.
    """
    track = np.asarray(track, dtype=np.int64)
    t_ns = np.asarray(t_ns, dtype=np.int64)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(track)
    if n == 0:
        e = np.empty(0, dtype=np.int64)
        return Passes(e, e.copy(), e.copy(), e.copy())
    p = project(lon, lat, res, margin=False)
    same_track = track[1:] == track[:-1]
    same_face = p.face[1:] == p.face[:-1]
    dx, dy = np.diff(p.x), np.diff(p.y)
    length = np.hypot(dx, dy)
    busy = same_track & same_face & ((p.key[1:] != p.key[:-1]) | (length > MAX_PIECE))
    ev = _lattice_events(
        np.flatnonzero(busy), p.x, p.y, p.q, p.r, p.face, p.key, t_ns, dx, dy, length
    )
    cross = np.flatnonzero(same_track & ~same_face)
    if cross.size:
        cf = _cross_face_events(cross, lon, lat, t_ns, res)
        order = np.argsort(np.r_[ev.seg, cf.seg], kind="stable")
        ev = _Events(
            *(np.r_[a, b][order] for a, b in zip(vars(ev).values(), vars(cf).values(), strict=True))
        )

    # Interleave the track starts: a start comes before its track's segment events.
    start = np.flatnonzero(np.r_[True, ~same_track])
    n_ev = len(ev.seg) + len(start)
    pos_ev = np.arange(len(ev.seg)) + np.searchsorted(start, ev.seg, side="right")
    pos_st = np.arange(len(start)) + np.searchsorted(ev.seg, start, side="left")
    key = np.empty(n_ev, dtype=np.int64)
    when = np.empty(n_ev, dtype=np.int64)
    at = np.empty(n_ev, dtype=np.int64)  # fix index, for the track
    rx = np.empty(n_ev)
    ry = np.empty(n_ev)
    key[pos_ev], when[pos_ev], at[pos_ev], rx[pos_ev], ry[pos_ev] = (
        ev.key,
        ev.t,
        ev.seg,
        ev.rx,
        ev.ry,
    )
    key[pos_st], when[pos_st], at[pos_st] = p.key[start], t_ns[start], start
    rx[pos_st], ry[pos_st] = p.x[start], p.y[start]

    codes, uniq = pd.factorize(key)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[codes[::-1]] = np.arange(n_ev)[::-1]
    cell = cells_for_keys(np.asarray(uniq), res, (rx[first], ry[first]))[codes]

    # One pass per run of the same cell (keys of two faces may name one cell).
    ev_track = track[at]
    new_run = np.r_[True, (cell[1:] != cell[:-1]) | (ev_track[1:] != ev_track[:-1])]
    keep = np.flatnonzero(new_run)
    p_track, p_cell, p_enter = ev_track[keep], cell[keep], when[keep]
    last_fix = np.r_[start[1:] - 1, n - 1]
    leave = np.empty(len(keep), dtype=np.int64)
    leave[:-1] = p_enter[1:]
    last_pass = np.r_[p_track[1:] != p_track[:-1], True]
    leave[last_pass] = t_ns[last_fix]
    return Passes(p_track, p_cell, p_enter, leave)
