import gc

from app import create_app

app = create_app()
# Everything made so far (modules, the app, its schemas and mappers) lives as long as the worker: move it
# out of the collector's reach, so that the full collections a large page of records sets off do not
# walk it again each time (long pauses in the slowest requests, not in the typical one).
gc.freeze()
