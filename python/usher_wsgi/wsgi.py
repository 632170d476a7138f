"""wsgi: the PEP 3333 objects one request sees: wsgi.input (the body, never read past CONTENT_LENGTH),
wsgi.file_wrapper, and the response (start_response, its checks, the raw HTTP/1.1 bytes out, framed
for usher's router or ended by close for Nginx/Apache). Must not: accept connections, parse uwsgi
packets, or log (SpecError and BodyTimeout are raised for the server to report).
"""
import io
import os
import time

from .codec import arm_timeout

HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
                        'te', 'trailers', 'transfer-encoding', 'upgrade'))
STATUS_TEXT = {200: 'OK', 400: 'Bad Request', 408: 'Request Timeout', 413: 'Request Entity Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable'}


class BodyTimeout(TimeoutError):
    """wsgi.input: the peer stopped sending the body (an OSError, as uWSGI raises IOError there)."""


class SpecError(Exception):
    """The app broke PEP 3333."""


class Input:
    """wsgi.input: never reads past CONTENT_LENGTH."""

    def __init__(self, conn, pending, length, cfg):
        self.conn = conn
        self.buf = pending[:length]
        self.remaining = length - len(self.buf)  # still on the socket
        self.timed = False
        self.cfg = cfg

    def _fill(self, want):
        if len(self.buf) < want and self.remaining > 0 and not self.timed:
            self.timed = True
            arm_timeout(self.conn, self.cfg.rcvtimeo)
        while len(self.buf) < want and self.remaining > 0:
            try:
                chunk = self.conn.recv(min(max(want - len(self.buf), 65536), self.remaining))
            except BlockingIOError:  # SO_RCVTIMEO ran out
                raise BodyTimeout('the peer sent no body bytes for %d s (socket-timeout)' % self.cfg.socket_timeout) from None
            if not chunk:
                self.remaining = 0
                break
            self.remaining -= len(chunk)
            self.buf += chunk
    def read(self, size=-1):
        if size is None or size < 0:
            self._fill(len(self.buf) + self.remaining)
            data, self.buf = self.buf, b''
            return data
        if not self.buf:
            self._fill(min(size, 65536) if size else 0)
        elif len(self.buf) < size:
            self._fill(size)
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def readline(self, size=-1):
        while True:
            nl = self.buf.find(b'\n')
            if nl >= 0 or self.remaining == 0 or (size is not None and 0 <= size <= len(self.buf)):
                break
            self._fill(len(self.buf) + 8192)
        end = nl + 1 if nl >= 0 else len(self.buf)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self, deadline):
        """Discard what the app did not read, so closing does not reset the peer."""
        self.buf = b''
        try:
            self.conn.settimeout(max(0.1, deadline - time.monotonic()))
            while self.remaining > 0 and time.monotonic() < deadline:
                chunk = self.conn.recv(min(self.remaining, 262144))
                if not chunk:
                    break
                self.remaining -= len(chunk)
            self.conn.settimeout(None)
        except OSError:
            pass


def buffer_body(inp, length, limit):
    """`post-buffering`: the whole body read before the app runs, into a seekable file: in memory up to
    `limit` bytes, else a temporary file on disk (TMPDIR), as uWSGI does. Raises BodyTimeout."""
    if length <= limit:
        return io.BytesIO(inp.read(length))
    # Imported here, not at the top: tempfile pulls in shutil, random and the compressors (~0.5 MB in
    # every fork-server, for a path most apps never take); the first big body pays the import once.
    import tempfile
    f = tempfile.TemporaryFile(prefix='usher-body-')
    try:
        while True:
            chunk = inp.read(1 << 20)
            if not chunk:
                break
            f.write(chunk)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    return f


class FileWrapper:
    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class Response:
    __slots__ = ('conn', 'status', 'headers', 'sent', 'head_only', 'length', 'written', 'keep', 'chunked', 'hsize', 'hcount')

    def __init__(self, conn, head_only, keep):
        self.conn = conn
        self.status = None
        self.headers = None
        self.sent = False
        self.head_only = head_only
        self.length = None
        self.written = 0
        # keep: the peer (usher's router, modifier2 = 1) wants the connection kept, so the body must be
        # framed: by the app's Content-Length, else chunked. Otherwise the body ends at close.
        self.keep = keep
        self.chunked = False
        self.hsize = 0  # bytes of the response head, and its header count, for the access line
        self.hcount = 0

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise SpecError('start_response called a second time without exc_info')
        if type(status) is not str:
            raise SpecError('status must be a str, got %s' % type(status).__name__)
        if len(status) < 4 or not status[:3].isdigit() or status[3] != ' ':
            raise SpecError('status must look like "200 OK", got %r' % status)
        if type(headers) is not list:
            raise SpecError('headers must be a list, got %s' % type(headers).__name__)
        length = None
        for item in headers:
            if type(item) is not tuple or len(item) != 2 or type(item[0]) is not str or type(item[1]) is not str:
                raise SpecError('each header must be a (str, str) tuple, got %r' % (item,))
            name = item[0].lower()
            if name in HOP_BY_HOP:
                raise SpecError('hop-by-hop header %r is the server\'s to set' % item[0])
            if '\n' in item[1] or '\r' in item[1]:
                raise SpecError('header %r contains a line break' % item[0])
            if name == 'content-length':
                try:
                    length = int(item[1])
                except ValueError:
                    raise SpecError('bad Content-Length %r' % item[1])
        self.status = status
        self.headers = headers
        self.length = length
        return self.write

    def _head_bytes(self):
        lines = ['HTTP/1.1 ', self.status, '\r\n']
        for name, value in self.headers:
            lines.append(name)
            lines.append(': ')
            lines.append(value)
            lines.append('\r\n')
        code = self.status[:3]
        self.hcount = len(self.headers) + 1
        if not self.keep:
            lines.append('Connection: close\r\n\r\n')
        elif self.length is None and not self.head_only and code not in ('204', '304') and code[0] != '1':
            self.chunked = True
            lines.append('Transfer-Encoding: chunked\r\n\r\n')
        else:
            self.hcount -= 1
            lines.append('\r\n')
        return ''.join(lines).encode('latin-1')

    def write(self, data):
        if self.status is None:
            # only the body loop can get here (the write callable comes from start_response itself)
            raise SpecError('the app returned a body without calling start_response()')
        if type(data) is not bytes:
            raise SpecError('response body chunks must be bytes, got %s' % type(data).__name__)
        if not self.sent:
            self.sent = True
            head = self._head_bytes()
            self.hsize = len(head)
            if self.head_only or not data:
                self.conn.sendall(head)
            else:
                self.conn.sendall(head + (b'%x\r\n%s\r\n' % (len(data), data) if self.chunked else data))
                self.written += len(data)
            return
        if data and not self.head_only:
            self.conn.sendall(b'%x\r\n%s\r\n' % (len(data), data) if self.chunked else data)
            self.written += len(data)

    def finish(self):
        if not self.sent:
            self.write(b'')
        if self.chunked:
            self.conn.sendall(b'0\r\n\r\n')

    def sendfile(self, wrapper):
        if self.keep and self.length is None:
            return False  # chunked framing: iterate instead
        f = wrapper.filelike
        try:
            fd = f.fileno()
            offset = f.tell()
        except (AttributeError, OSError, ValueError):
            return False
        self.write(b'')
        if self.head_only:
            return True
        todo = self.length if self.length is not None else os.fstat(fd).st_size - offset
        out = self.conn.fileno()
        while todo > 0:
            n = os.sendfile(out, fd, offset, min(todo, 1 << 20))
            if n == 0:
                break
            offset += n
            todo -= n
            self.written += n
        return True


def simple_response(conn, status, text):
    body = (text + '\n').encode()
    head = 'HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % (
        status, STATUS_TEXT.get(status, 'Error'), len(body))
    try:
        conn.sendall(head.encode() + body)
    except OSError:
        pass
