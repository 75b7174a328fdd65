"""GIS exchange: the observation, site and control-operation lists as GeoJSON, KML, zipped Shapefile and
CSV (docs/contract.md §3.2), by the same filters as the lists. `writers/` holds the file formats (no
database); `layers.py` the columns and rows; `services.py` the queries (the lists' own); `api.py` the
endpoints.
"""
