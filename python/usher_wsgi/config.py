"""config: the worker's settings, read once from the master's spec (USHER_WORKER) into one object that
is passed to whoever needs it. Must not: hold module-level settings, or read anything but the spec.
"""
from .codec import rcvtimeo


class Config:
    __slots__ = ('id', 'fds', 'listen', 'threads', 'processes', 'buffer_size', 'harakiri', 'socket_timeout',
                 'rcvtimeo', 'max_requests', 'logging', 'chdir', 'wsgi_file', 'module', 'callable', 'pythonpath')

    def __init__(self, spec):
        self.id = spec['id']
        self.fds = list(spec['fds'])
        self.listen = spec.get('listen') or 100
        self.threads = spec['threads']
        self.processes = spec['processes']
        self.buffer_size = spec['bufferSize']
        self.harakiri = spec.get('harakiri') or 0
        self.socket_timeout = int(spec.get('socketTimeout') or 30)
        self.rcvtimeo = rcvtimeo(self.socket_timeout)
        self.max_requests = spec.get('maxRequests') or 0
        self.logging = not spec.get('disableLogging')
        self.chdir = spec.get('chdir')
        self.wsgi_file = spec.get('wsgiFile')
        self.module = spec.get('module')
        self.callable = spec.get('callable') or 'application'
        self.pythonpath = spec.get('pythonpath') or []
