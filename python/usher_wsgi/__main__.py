"""The launcher the master runs: `python3 -u .../usher_wsgi/__main__.py` (also `python3 -m usher_wsgi`).
Run as a script, Python puts this file's folder first on sys.path, where `log`, `config`, `app`... would
shadow the app's own modules: it is taken off, and the package is imported by its absolute path, so
sys.path is the app's (its folder, then `pythonpath`, see app.py); then the process title is set.
Must not: do anything but that and pick worker or fork-server.
"""
import os
import sys

if __package__:
    from .main import main
    from .forkserver import CONTROL_ENV, run as run_forkserver
    from .handoff import EARLY_ENV
else:
    import importlib.util
    _here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] and os.path.abspath(sys.path[0]) == _here:
        del sys.path[0]
    _spec = importlib.util.spec_from_file_location('usher_wsgi', os.path.join(_here, '__init__.py'),
                                                   submodule_search_locations=[_here])
    _pkg = importlib.util.module_from_spec(_spec)
    sys.modules['usher_wsgi'] = _pkg
    _spec.loader.exec_module(_pkg)
    from usher_wsgi.main import main
    from usher_wsgi.forkserver import CONTROL_ENV, run as run_forkserver
    from usher_wsgi.handoff import EARLY_ENV

if __name__ == '__main__':
    from usher_wsgi.proctitle import from_environment
    from_environment()
    # The master starts a fork-server (the default) with its control socket's path (or, started early,
    # hands it over later: handoff.py), a worker without.
    if os.environ.get(CONTROL_ENV) or os.environ.get(EARLY_ENV):
        run_forkserver()
    else:
        main()
