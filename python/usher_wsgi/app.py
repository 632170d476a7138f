"""app: loading the WSGI callable (`wsgi-file` or `module[:callable]`) with uWSGI's sys.path semantics:
the app's folder (the cwd, after `chdir`) first, then `pythonpath`. Must not: catch the app's import
errors (main reports them), or put the runner's own folder on sys.path.
"""
import importlib
import importlib.machinery
import importlib.util
import os
import sys


def load_app(cfg):
    cwd = os.getcwd()
    for p in reversed(cfg.pythonpath):
        if p not in sys.path:
            sys.path.insert(0, p)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    name = cfg.callable
    if cfg.wsgi_file:
        path = cfg.wsgi_file
        if not os.path.exists(path):
            raise LookupError('wsgi-file not found: %s' % path)
        modname = 'uwsgi_file_' + ''.join(c if c.isalnum() else '_' for c in os.path.splitext(path)[0])
        # Any extension (`app.wsgi` is common): the source loader is named, not guessed from the suffix.
        loader = importlib.machinery.SourceFileLoader(modname, path)
        mspec = importlib.util.spec_from_file_location(modname, path, loader=loader)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[modname] = module
        mspec.loader.exec_module(module)
        where = path
    else:
        target = cfg.module or ''
        if ':' in target:
            target, name = target.split(':', 1)
        module = importlib.import_module(target)
        where = 'module ' + target
    app = getattr(module, name, None)
    if app is None:
        raise LookupError('%s defines no callable named %r (set `callable` if it has another name)' % (where, name))
    if not callable(app):
        raise LookupError('%s: %r is not callable' % (where, name))
    return app
