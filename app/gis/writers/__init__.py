"""GIS file writers: GeoJSON, KML, zipped Shapefile and CSV (pure: no database, no Flask).

Each takes a `base.Layer` and an iterable of `base.Record` and yields the file's bytes as it goes.
"""
