"""log: one line per event on stderr (the master's log fd), `<time> <LEVEL> worker <id>: msg k=v ...`
as src/log.ts writes them, access lines, and wsgi.errors. Event lines are written at once, each whole.
Access lines are batched as src/log.ts batches a Node worker's: whole lines, at most PIPE_BUF bytes per
write (so a batch is atomic in the pipe every child shares with the others), written when the next line
would not fit or 20 ms after the first line of the batch (a flusher thread, started with the first
access line, so after any fork), and before any event line (the order of a worker's lines is kept).
One write(2) per request was most of what the access log cost a Python worker: the syscall and the GIL
handed to the other serving thread while it ran. Every exit path calls flush(); a worker killed
outright (SIGKILL) loses at most the last 20 ms of its access lines.
Must not: decide what is logged (callers do), or write a line in pieces.
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


# A write of at most PIPE_BUF bytes to a pipe is atomic: a batch never interleaves with other children's.
PIPE_BUF = 4096
# How long an access line may wait for others to share its write (src/log.ts: BATCH_MS).
BATCH_S = 0.02


class Log:
    def __init__(self, proc):
        self.proc = proc
        self.lock = threading.Lock()
        self.dropped = 0  # lines lost to a full log pipe; reported with the next line that gets through
        self.batch = []  # encoded access lines waiting for their write
        self.batched = 0  # their bytes
        self.due = threading.Event()  # set when a batch starts: the flusher writes it BATCH_S later
        self.flusher = None

    def __call__(self, level, msg, **fields):
        line = '%s %-5s %s: %s' % (_stamp(), level, self.proc, msg)
        for k, v in fields.items():
            if v is not None:
                line += ' %s=%s' % (k, _fmt_value(v))
        self.raw(line + '\n')

    def raw(self, line):
        """A whole line in one write (<= PIPE_BUF: never split in the master's pipe), after the access
        lines waiting. The pipe is non-blocking: when it stays full for 50 ms the line is dropped and
        counted, never waited on."""
        data = line.encode('utf-8', 'replace')
        with self.lock:
            if self.batch:
                self._write_batch()
            self._write_line(data, 1)

    def access(self, line):
        """An access line, batched (see the header): one write for many requests."""
        data = line.encode('utf-8', 'replace')
        with self.lock:
            if self.batched + len(data) > PIPE_BUF and self.batch:
                self._write_batch()
            self.batch.append(data)
            self.batched += len(data)
            if self.batched >= PIPE_BUF:  # one line that long goes alone, as an event line would
                self._write_batch()
            elif len(self.batch) == 1:
                if self.flusher is None:
                    self.flusher = threading.Thread(target=self._flush_later, daemon=True, name='usher-log')
                    self.flusher.start()
                self.due.set()

    def flush(self):
        """Write the access lines waiting (exit paths call this)."""
        with self.lock:
            if self.batch:
                self._write_batch()

    def _flush_later(self):
        while True:
            self.due.wait()
            time.sleep(BATCH_S)
            with self.lock:
                self.due.clear()
                if self.batch:
                    self._write_batch()

    def _write_batch(self):
        """Under self.lock."""
        data = self.batch[0] if len(self.batch) == 1 else b''.join(self.batch)
        lines = len(self.batch)
        self.batch = []
        self.batched = 0
        self._write_line(data, lines)

    def _write_line(self, data, lines):
        """Under self.lock: `data` (whole lines) in one write, after the count of lines lost so far."""
        if self.dropped:
            lost = '%s WARN  %s: log lines were lost: the log pipe was full lost=%d\n' % (_stamp(), self.proc, self.dropped)
            if self._write(lost.encode()):
                self.dropped = 0
        if not self._write(data):
            self.dropped += lines

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
            if self.batch:
                self._write_batch()
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
