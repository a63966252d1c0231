"""Use cases: what a person or a feed asks of the service, one transaction each.

The API's routers and the CLI's commands both call these functions: a router parses
a request, calls one use case and shapes its answer; a command does the same with its
arguments. A use case calls the store (:mod:`geo.store`, the only SQL) and the pure
domain packages; it knows nothing of HTTP.
"""
