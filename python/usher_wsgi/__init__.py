"""usher's Python worker: runs one WSGI app (PEP 3333) in one process, serving the uwsgi protocol on the
listening sockets the usher master hands over by fd. Standard library only, Python >= 3.8.

Modules, one concern each: contract (generated from src/ipc.ts), config (the spec, checked), log,
channel (IPC with the master), codec (uwsgi packet in), wsgi (environ input and HTTP response out),
server (accept loop, request lifecycle, counters), app (loading the app), main (boot and shutdown).
__main__ is the launcher the master runs. This package must not: bind sockets, respawn anything, or
act on UWSGI_* vars (request data never chooses what code runs).
"""
