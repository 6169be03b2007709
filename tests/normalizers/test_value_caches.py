"""After a batch of files the caches of values met are emptied; reference data stay loaded."""

from __future__ import annotations

from xunqin.normalizers import clear_value_caches
from xunqin.normalizers import names, places


def test_values_met_are_forgotten_reference_data_kept() -> None:
    places.parse_place("河南省周口市商水县")
    names.parse_name("王秀英")
    divisions = places._division_map()
    assert places._parse_place.cache_info().currsize and names.parse_name.cache_info().currsize
    assert clear_value_caches() >= 10
    assert places._parse_place.cache_info().currsize == 0 and names.parse_name.cache_info().currsize == 0
    assert places._division_map() is divisions  # the division table is not read again
    assert places.parse_place("河南省周口市商水县").level == "county"  # and parsing still works

