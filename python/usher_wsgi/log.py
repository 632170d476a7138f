"""log: one line per event on stderr (the master's log fd), `<time> <LEVEL> worker <id>: msg k=v ...`
as src/log.ts writes them, and wsgi.errors. Must not: decide what is logged (callers do), or buffer
lines across events (a line is written whole, under a lock shared by every thread).
"""
import json
import os
import select
import threading
import time

# Access lines are compiled in access_log.py (strftime.py has their times); server.py imports AccessLog from here.
from .access_log import AccessLog  # noqa: F401


def _fmt_value(v):
    s = str(v)
    # Quoted (JSON) when empty or holding a space, quote, '=' or any control character (one line per event).
    if s == '' or ' ' in s or '"' in s or '=' in s or not s.isprintable():
        return json.dumps(s)
    return s


def _stamp():
    t = time.time()
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % (int(t * 1000) % 1000)


class Log:
    def __init__(self, proc):
        self.proc = proc
        self.lock = threading.Lock()
        self.dropped = 0  # lines lost to a full log pipe; reported with the next line that gets through

    def __call__(self, level, msg, **fields):
        line = '%s %-5s %s: %s' % (_stamp(), level, self.proc, msg)
        for k, v in fields.items():
            if v is not None:
                line += ' %s=%s' % (k, _fmt_value(v))
        self.raw(line + '\n')

    def raw(self, line):
        """A whole line in one write (<= PIPE_BUF: never split in the master's pipe). The pipe is
        non-blocking: when it stays full for 50 ms the line is dropped and counted, never waited on."""
        data = line.encode('utf-8', 'replace')
        with self.lock:
            if self.dropped:
                lost = '%s WARN  %s: log lines were lost: the log pipe was full lost=%d\n' % (_stamp(), self.proc, self.dropped)
                if self._write(lost.encode()):
                    self.dropped = 0
            if not self._write(data):
                self.dropped += 1

    def _write(self, data):
        for attempt in (0, 1):
            try:
                os.write(2, data)
                return True
            except BlockingIOError:
                if attempt == 0:
                    select.select([], [2], [], 0.05)
            except OSError:
                return False  # the master's pipe is gone: the master is too
        return False

    def traceback(self, msg, **fields):
        """The line, then the exception being handled (callers are in an `except` block)."""
        self('ERROR', msg, **fields)
        import traceback  # here: ~0.2 MiB a worker never pays unless something fails (the app may have it already)
        self._lines(traceback.format_exc())

    def exception(self, exc, tb):
        """A traceback from `tb` on (the caller has cut the frames it does not want shown)."""
        import traceback
        self._lines(''.join(traceback.format_exception(type(exc), exc, tb)))

    def _lines(self, text):
        """A traceback, a line per write: each stays whole in the master's pipe."""
        with self.lock:
            for line in text.splitlines(True):
                self._write(line.encode('utf-8', 'replace'))


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
