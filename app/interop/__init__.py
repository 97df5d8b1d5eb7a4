"""Data in and out: external ids, upsert by external id, and the five systems' list formats.

`keys` stores a record's id in another system; `upsert` creates or updates deals by such a
key through the one create/update code (app/crud/opportunities.py); `engine` streams an
import file through a format's mapping (`formats/`) in batches, and writes exports.
"""
