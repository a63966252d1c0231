"""Point → grid: the in-memory locator and the reverse-geocoding answer built on it.

- :mod:`geo.lookup.locator`: :class:`GridLocator`, exact point-in-grid with the
  smallest-code tie rule on shared borders (raster pre-filter in
  :mod:`geo.lookup.raster`, border distances in :mod:`geo.lookup.border`);
- :mod:`geo.lookup.geocode`: :class:`ReverseGeocoder`, the four-level chain and the
  people responsible for a point;
- :mod:`geo.lookup.answer`: :func:`reverse_answer`, the whole single-point answer
  (special grids, who is responsible, phones masked or not) as the API's dict;
- :mod:`geo.lookup.batch`: :func:`reverse_frame`, the same answer for arrays of points.

Pure: no database, no HTTP. Importing it loads neither SQLAlchemy nor FastAPI.
"""

from geo.lookup.answer import ReverseAsk, reverse_answer
from geo.lookup.batch import RESULT_COLUMNS, reverse_frame
from geo.lookup.geocode import Person, ReverseGeocoder, ReverseResult, mask_phone
from geo.lookup.locator import BORDER_RULE, GridLocator, UnitRef

__all__ = [
    "BORDER_RULE",
    "RESULT_COLUMNS",
    "GridLocator",
    "Person",
    "ReverseAsk",
    "ReverseGeocoder",
    "ReverseResult",
    "UnitRef",
    "mask_phone",
    "reverse_answer",
    "reverse_frame",
]
