"""config: the worker's settings, read once from the master's spec (USHER_WORKER) into one object that
is passed to whoever needs it. The spec is held to the contract: every key of WORKER_SPEC_KEYS present
with the right type (else BadSpec, exit EXIT_BOOT), and the same CONTRACT_VERSION (else exit
EXIT_CONTRACT). Must not: hold module-level settings, fill in defaults for missing keys, or read
anything but the spec.
"""
import json

from . import contract
from .codec import rcvtimeo

_INT = (int,)
_NUM = (int, float)
_STR_OR_NONE = (str, type(None))
# What each key must be (bool is an int in Python: checked apart, below).
_TYPES = {
    'contract': _INT, 'id': _INT, 'generation': _INT, 'fds': (list,), 'kinds': (list,), 'listen': _INT,
    'threads': _INT, 'processes': _INT, 'bufferSize': _INT, 'harakiri': _NUM, 'socketTimeout': _NUM,
    'maxRequests': _INT, 'disableLogging': (bool,), 'chdir': _STR_OR_NONE, 'app': _STR_OR_NONE,
    'wsgiFile': _STR_OR_NONE, 'module': _STR_OR_NONE, 'callable': (str,), 'pythonpath': (list,),
    'postBuffering': _INT, 'heartbeatMs': _NUM, 'static': (dict, type(None)), 'readyPath': _STR_OR_NONE, 'limitPost': _INT, 'limitAs': _INT,
    'harakiriGracefulTimeout': _NUM, 'harakiriGracefulSignal': _INT, 'accessLog': (dict,),
}


class BadSpec(Exception):
    def __init__(self, message, exit_code):
        Exception.__init__(self, message)
        self.exit_code = exit_code


def parse_spec(raw):
    """The spec from USHER_WORKER's text, checked as src/ipc.ts parseSpec does (same order, same exits)."""
    env = contract.WORKER_SPEC_ENV
    if raw is None:
        raise BadSpec("%s is not set; usher's workers are started by the usher master, not by hand" % env, contract.EXIT_BOOT)
    try:
        spec = json.loads(raw)
    except ValueError:
        raise BadSpec('%s is not JSON' % env, contract.EXIT_BOOT) from None
    if not isinstance(spec, dict):
        raise BadSpec('%s is not a JSON object' % env, contract.EXIT_BOOT)
    missing = [k for k in contract.WORKER_SPEC_KEYS if k not in spec]
    if missing:
        raise BadSpec('%s lacks required key(s): %s' % (env, ', '.join(missing)), contract.EXIT_BOOT)
    if spec['contract'] != contract.CONTRACT_VERSION:
        raise BadSpec('contract version mismatch: the master speaks %s, this worker %d; reinstall usher so every '
                      'part is the same version' % (json.dumps(spec['contract']), contract.CONTRACT_VERSION), contract.EXIT_CONTRACT)
    for key, types in _TYPES.items():
        v = spec[key]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise BadSpec('%s key %s has the wrong type (%s)' % (env, key, json.dumps(v)[:60]), contract.EXIT_BOOT)
    if spec['postBuffering'] < 0:
        raise BadSpec('%s key postBuffering must be a byte count >= 0 (%s)' % (env, json.dumps(spec['postBuffering'])[:60]), contract.EXIT_BOOT)
    return spec


class Config:
    __slots__ = ('id', 'fds', 'listen', 'threads', 'processes', 'buffer_size', 'harakiri', 'socket_timeout',
                 'rcvtimeo', 'max_requests', 'logging', 'chdir', 'wsgi_file', 'module', 'callable', 'pythonpath',
                 'post_buffering', 'heartbeat_s', 'static', 'ready_path', 'limit_post', 'limit_as', 'harakiri_graceful_timeout', 'harakiri_graceful_signal', 'access_log')

    def __init__(self, spec):
        self.id = spec['id']
        self.fds = spec['fds']
        self.listen = spec['listen']
        self.threads = spec['threads']
        self.processes = spec['processes']
        self.buffer_size = spec['bufferSize']
        self.harakiri = spec['harakiri']
        self.socket_timeout = spec['socketTimeout']
        self.rcvtimeo = rcvtimeo(self.socket_timeout)
        self.max_requests = spec['maxRequests']
        self.logging = not spec['disableLogging']
        self.chdir = spec['chdir']
        self.wsgi_file = spec['wsgiFile']
        self.module = spec['module']
        self.callable = spec['callable']
        self.pythonpath = spec['pythonpath']
        self.post_buffering = spec['postBuffering']
        self.heartbeat_s = spec['heartbeatMs'] / 1000.0
        self.static = spec['static']
        self.ready_path = spec['readyPath']
        self.limit_post = spec['limitPost']
        self.limit_as = spec['limitAs']
        self.harakiri_graceful_timeout = spec['harakiriGracefulTimeout']
        self.harakiri_graceful_signal = spec['harakiriGracefulSignal']
        self.access_log = spec['accessLog']

    def forked(self, worker_id, max_requests):
        """This config for a worker the fork-server forks: only its id and max-requests differ."""
        c = Config.__new__(Config)
        for k in Config.__slots__:
            setattr(c, k, getattr(self, k))
        c.id = worker_id
        c.max_requests = max_requests
        return c
