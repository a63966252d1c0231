"""The administrative units themselves: codes, edits of the partition, drafts vs live.

- :mod:`geo.units.codes`: statistical division codes (12 digits + grid sequence),
  their checks and the allocation of new grid numbers;
- :mod:`geo.units.edits`: the pure geometry of each planner edit (reshape, split,
  merge, move a border …) and the partition invariant it must keep;
- :mod:`geo.units.impact`: what an edit moves (compounds, incidents, workload);
- :mod:`geo.units.diff`: a draft set against the live map;
- :mod:`geo.units.frames`: the live map as a frame — find a unit, check the versions a
  caller saw, the map after an edit, a content checksum;
- :mod:`geo.units.special`: special grids from a file compared with the live ones.

The level words themselves are in :mod:`geo.vocab`.
"""
