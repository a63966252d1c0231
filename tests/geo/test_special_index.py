"""The one-point special-grid lookup equals brute-force shapely covers, vertices included."""

import numpy as np
import shapely

from geo.incidents.placement import SpecialIndex


def test_containing_equals_brute_force(sample):
    sp = sample.special_grids.assign(id=range(len(sample.special_grids)))
    index = SpecialIndex(sp)
    rng = np.random.default_rng(7)
    x0, y0, x1, y1 = sample.district.total_bounds
    pts = np.column_stack([rng.uniform(x0, x1, 2000), rng.uniform(y0, y1, 2000)])
    vertices = shapely.get_coordinates(sp.geometry.values)[::7]
    for lon, lat in np.vstack([pts, vertices]):
        got = [r.code for r in index.containing(float(lon), float(lat))]
        want = sorted(
            c
            for c, g in zip(sp["code"], sp.geometry, strict=True)
            if g.covers(shapely.Point(lon, lat))
        )
        assert got == want
