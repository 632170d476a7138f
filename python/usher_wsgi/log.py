"""log: one line per event on stderr (the master's log fd), `<time> <LEVEL> worker <id>: msg k=v ...`
as src/log.ts writes them, and wsgi.errors. Must not: decide what is logged (callers do), or buffer
lines across events (a line is written whole, under a lock shared by every thread).
"""
import json
import sys
import threading
import time
import traceback


def _fmt_value(v):
    s = str(v)
    # Quoted (JSON) when empty or holding a space, quote, '=' or any control character (one line per event).
    if s == '' or ' ' in s or '"' in s or '=' in s or not s.isprintable():
        return json.dumps(s)
    return s


class Log:
    def __init__(self, proc):
        self.proc = proc
        self.lock = threading.Lock()

    def __call__(self, level, msg, **fields):
        t = time.time()
        stamp = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % (int(t * 1000) % 1000)
        line = '%s %-5s %s: %s' % (stamp, level, self.proc, msg)
        for k, v in fields.items():
            if v is not None:
                line += ' %s=%s' % (k, _fmt_value(v))
        with self.lock:
            sys.stderr.write(line + '\n')
            sys.stderr.flush()

    def traceback(self, msg, **fields):
        """The line, then the exception being handled (callers are in an `except` block)."""
        self('ERROR', msg, **fields)
        with self.lock:
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()

    def exception(self, exc, tb):
        """A traceback from `tb` on (the caller has cut the frames it does not want shown)."""
        with self.lock:
            traceback.print_exception(type(exc), exc, tb)
            sys.stderr.flush()


class ErrorStream:
    """wsgi.errors: what the app writes becomes log lines."""

    def __init__(self, log):
        self._log = log
        self._buf = ''
        self._lock = threading.Lock()

    def write(self, s):
        with self._lock:
            self._buf += s
            while '\n' in self._buf:
                line, self._buf = self._buf.split('\n', 1)
                self._log('WARN', 'wsgi.errors: ' + line)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        with self._lock:
            if self._buf:
                line, self._buf = self._buf, ''
                self._log('WARN', 'wsgi.errors: ' + line)
