"""The story service: a materialised view of storywire's outputs in SQLite, a vector index, an API and a board.

Imports the pure cores (taxonomy; taggers for the query encoder), never `flows`.
"""

from service.server import ServeOptions, build, serve

__all__ = ["ServeOptions", "build", "serve"]
