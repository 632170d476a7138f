"""usher's Python worker: runs one WSGI app (PEP 3333) in one process, serving the uwsgi protocol on the
listening sockets the usher master hands over by fd. Standard library only, Python >= 3.8.

Contract with the master (src/master/spawn.ts, src/ipc.ts):
- USHER_WORKER (JSON): id, fds (inherited bound sockets), listen (backlog), threads, processes,
  bufferSize, harakiri, maxRequests, disableLogging, chdir, wsgiFile | module, callable, pythonpath.
- NODE_CHANNEL_FD: Node's IPC channel, one JSON message per line. Worker -> master: ready, heartbeat,
  app-error. Master -> worker: stop. EOF means the master is gone: exit.
- SIGTERM = graceful stop (finish in-flight requests, exit 0). SIGINT/SIGHUP are the master's.
- Exit 3: the app could not be loaded (the master stops usher); exit 4: boot error.
Per connection: one uwsgi request in, a raw HTTP/1.1 response out, the end of the body marked by closing
the connection (as Nginx and Apache expect). Only usher's own router asks (modifier2 = 1) to keep the
connection: then the body is framed by Content-Length or chunked, and the connection serves again.
The unread part of a request body is drained before closing, so the proxy never sees a reset.
This file must not: bind sockets, respawn anything, or act on UWSGI_* vars (request data never
chooses what code runs).
"""
import importlib
import importlib.util
import itertools
import json
import os
import re
import select
import signal
import _socket
import socket
from socket import MSG_DONTWAIT, SO_RCVTIMEO, SOCK_STREAM, SOL_SOCKET
import struct
import sys
import threading
import time
import traceback
from time import monotonic

EXIT_APP_LOAD = 3
EXIT_BOOT = 4
HEARTBEAT_S = 5.0
# `socket-timeout`: how long a read waits on a peer that stopped sending mid-request (set in main()).
SOCKET_TIMEOUT_S = 30
# The same as the kernel's receive timeout (SO_RCVTIMEO) on a blocking socket, set on a connection only
# once a read has to wait (see arm_timeout): a Python socket timeout would instead cost a poll() before
# every recv and two ioctl()s to switch modes, and setting it up front a setsockopt() per request.
RCVTIMEO = struct.pack('ll', SOCKET_TIMEOUT_S, 0)
DRAIN_TIMEOUT_S = 10.0
MAX_VARS = 256
# modifier2 = 1 from usher's router: frame the response and keep the connection (src/router/upstream.ts)
KEEPALIVE_MODIFIER2 = 1
ONESHOT_IN = select.EPOLLIN | select.EPOLLONESHOT
# Listening sockets are shared by every thread of every worker process, each waiting in its own epoll:
# EPOLLEXCLUSIVE wakes one of those epolls per new connection instead of all of them (each would try
# accept() and all but one get EAGAIN). A thread that still loses the race just gets EAGAIN.
LISTEN_IN = select.EPOLLIN | getattr(select, 'EPOLLEXCLUSIVE', 0)

HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
                        'te', 'trailers', 'transfer-encoding', 'upgrade'))
REQUEST_MODIFIERS = frozenset((0, 5, 6, 7, 8, 9, 14, 15, 30))
# uWSGI's UWSGI_MODIFIER_MANAGE_PATH_INFO (Nginx `uwsgi_modifier1 30`): PATH_INFO starts with SCRIPT_NAME.
MANAGE_PATH_INFO = 30
# An HTTP token (RFC 9110): what a REQUEST_METHOD must be.
# The usual ones skip the regex.
COMMON_METHODS = frozenset(('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'))
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
STATUS_TEXT = {400: 'Bad Request', 408: 'Request Timeout', 413: 'Request Entity Too Large', 500: 'Internal Server Error'}

_unpack_head = struct.Struct('<BHB').unpack_from

# ---------------------------------------------------------------------------------------------- log

_log_lock = threading.Lock()
PROC = 'worker ?'


def _fmt_value(v):
    s = str(v)
    if s == '' or any(c in s for c in ' \t\n"='):
        return json.dumps(s)
    return s


def log(level, msg, **fields):
    t = time.time()
    stamp = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % (int(t * 1000) % 1000)
    line = '%s %-5s %s: %s' % (stamp, level, PROC, msg)
    for k, v in fields.items():
        if v is not None:
            line += ' %s=%s' % (k, _fmt_value(v))
    with _log_lock:
        sys.stderr.write(line + '\n')
        sys.stderr.flush()


def log_traceback(msg, **fields):
    log('ERROR', msg, **fields)
    with _log_lock:
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()


class ErrorStream:
    """wsgi.errors: what the app writes becomes log lines."""

    def __init__(self):
        self._buf = ''
        self._lock = threading.Lock()

    def write(self, s):
        with self._lock:
            self._buf += s
            while '\n' in self._buf:
                line, self._buf = self._buf.split('\n', 1)
                log('WARN', 'wsgi.errors: ' + line)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        with self._lock:
            if self._buf:
                line, self._buf = self._buf, ''
                log('WARN', 'wsgi.errors: ' + line)


# ---------------------------------------------------------------------------------------------- ipc

class Channel:
    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd) if fd is not None else None
        self.lock = threading.Lock()

    def send(self, msg):
        if self.sock is None:
            return
        data = (json.dumps(msg) + '\n').encode()
        try:
            with self.lock:
                self.sock.sendall(data)
        except OSError:
            pass

    def messages(self):
        if self.sock is None:
            return
        buf = b''
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


# ------------------------------------------------------------------------------------- uwsgi codec

class ProtocolError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status


class BodyTimeout(TimeoutError):
    """wsgi.input: the peer stopped sending the body (an OSError, as uWSGI raises IOError there)."""


class IdleClose(Exception):
    """The peer closed a kept connection between requests: nothing was lost."""


def arm_timeout(conn):
    """socket-timeout for the blocking reads to come. The first recv of a request goes without it
    (MSG_DONTWAIT, see recv_head): it is set only once a read actually has to wait."""
    conn.setsockopt(SOL_SOCKET, SO_RCVTIMEO, RCVTIMEO)


def recv_more(conn):
    """A blocking recv of the head's rest (a rare path: the timeout is re-armed each time)."""
    arm_timeout(conn)
    try:
        return conn.recv(65536)
    except BlockingIOError:  # SO_RCVTIMEO ran out
        raise socket.timeout() from None


def recv_head(conn, buffer_size):
    """Read header + vars; return (vars, leftover body bytes, modifier2). Raises ProtocolError, EOFError,
    IdleClose or socket.timeout."""
    try:
        # The front connected and (almost always) wrote its packet at once: try without waiting first.
        buf = conn.recv(65536, MSG_DONTWAIT)
    except BlockingIOError:
        buf = recv_more(conn)
    if not buf:
        raise IdleClose()
    while len(buf) < 4:
        more = recv_more(conn)
        if not more:
            raise EOFError('truncated header (%d bytes)' % len(buf))
        buf += more
    modifier1, datasize, modifier2 = _unpack_head(buf, 0)
    if modifier1 not in REQUEST_MODIFIERS:
        raise ProtocolError(400, 'modifier1 %d is not a request usher serves' % modifier1)
    if datasize > buffer_size:
        raise ProtocolError(413, 'request vars are %d bytes, more than buffer-size (%d); raise `buffer-size` '
                                 'if such requests are legitimate' % (datasize, buffer_size))
    if datasize == 0:
        raise ProtocolError(400, 'empty vars block: a request needs at least REQUEST_METHOD')
    total = 4 + datasize
    while len(buf) < total:
        more = recv_more(conn)
        if not more:
            raise EOFError('truncated vars block (%d of %d bytes)' % (len(buf), total))
        buf += more
    head = buf[:total] if len(buf) > total else buf
    # One latin-1 decode of the head, then str slices at the same offsets (latin-1 maps byte i to char
    # i). This loop runs ~20 times per request and is the worker's largest share of Python time, so it
    # does the least it can: indexing `head` past its end raises IndexError, and the rarer checks
    # (empty key, repeated key, too many vars, a value past the end) cost one test after the loop. Any
    # of them sends the block to the careful parser, which names the fault or joins the repeats.
    text = head.decode('latin-1')
    env = {}
    off = 4
    n = 0
    try:
        while off < total:
            ks = off + 2
            ke = ks + (head[off] | (head[off + 1] << 8))
            vs = ke + 2
            off = vs + (head[ke] | (head[ke + 1] << 8))
            env[text[ks:ke]] = text[vs:off]
            n += 1
    except IndexError:
        env = None
    if env is None or off != total or n != len(env) or n > MAX_VARS or '' in env:
        env = _parse_vars_carefully(text, total)
    if modifier1 == MANAGE_PATH_INFO:
        script, path = env.get('SCRIPT_NAME', ''), env.get('PATH_INFO')
        if script and path is not None and path.startswith(script):
            env['PATH_INFO'] = path[len(script):]
    return env, buf[total:], modifier2


def _parse_vars_carefully(text, total):
    """The vars block var by var: names exactly what is wrong, and joins a header repeated once per
    line (Nginx < 1.23 sends each Cookie line as its own HTTP_COOKIE var)."""
    env = {}
    off = 4
    n = 0
    while off < total:
        if off + 2 > total:
            raise ProtocolError(400, 'key length runs past the vars block')
        ks = off + 2
        ke = ks + (ord(text[off]) | (ord(text[off + 1]) << 8))
        vs = ke + 2
        if ke == ks or vs > total:
            raise ProtocolError(400, 'an empty key in the vars block' if ke == ks else 'key runs past the vars block')
        off = vs + (ord(text[ke]) | (ord(text[ke + 1]) << 8))
        if off > total:
            raise ProtocolError(400, 'value of %r runs past the vars block' % text[ks:ke])
        key = text[ks:ke]
        if key in env and key[:5] == 'HTTP_':
            env[key] += ('; ' if key == 'HTTP_COOKIE' else ', ') + text[vs:off]
        else:
            env[key] = text[vs:off]
        n += 1
    if n > MAX_VARS:
        raise ProtocolError(400, 'more than %d vars in one packet' % MAX_VARS)
    return env


# ------------------------------------------------------------------------------------------- input

class Input:
    """wsgi.input: never reads past CONTENT_LENGTH."""

    def __init__(self, conn, pending, length):
        self.conn = conn
        self.buf = pending[:length]
        self.remaining = length - len(self.buf)  # still on the socket
        self.timed = False

    def _fill(self, want):
        if len(self.buf) < want and self.remaining > 0 and not self.timed:
            self.timed = True
            arm_timeout(self.conn)
        while len(self.buf) < want and self.remaining > 0:
            try:
                chunk = self.conn.recv(min(max(want - len(self.buf), 65536), self.remaining))
            except BlockingIOError:  # SO_RCVTIMEO ran out
                raise BodyTimeout('the peer sent no body bytes for %d s (socket-timeout)' % SOCKET_TIMEOUT_S) from None
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


# ---------------------------------------------------------------------------------------- response

class SpecError(Exception):
    """The app broke PEP 3333."""


class Response:
    __slots__ = ('conn', 'status', 'headers', 'sent', 'head_only', 'length', 'written', 'keep', 'chunked')

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
        if not self.keep:
            lines.append('Connection: close\r\n\r\n')
        elif self.length is None and not self.head_only and code not in ('204', '304') and code[0] != '1':
            self.chunked = True
            lines.append('Transfer-Encoding: chunked\r\n\r\n')
        else:
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


# ------------------------------------------------------------------------------------------ server

class Worker:
    def __init__(self, spec, app, channel):
        self.spec = spec
        self.app = app
        self.channel = channel
        self.buffer_size = spec['bufferSize']
        self.logging = not spec.get('disableLogging')
        self.harakiri = spec.get('harakiri') or 0
        self.max_requests = spec.get('maxRequests') or 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.inflight = [False] * spec['threads']  # per serving thread: in a request now?
        self.served = itertools.count(1)  # next() is atomic under the GIL
        self.busy = {}  # thread ident -> (start time, uri) for harakiri
        self.errors = ErrorStream()
        # The wsgi.* keys every environ gets; a request's vars can't override them (run_app).
        self.wsgi_fixed = {
            'wsgi.version': (1, 0),
            'wsgi.errors': self.errors,
            'wsgi.multithread': spec['threads'] > 1,
            'wsgi.multiprocess': spec['processes'] > 1,
            'wsgi.run_once': False,
            'wsgi.file_wrapper': FileWrapper,
            'wsgi.input_terminated': True,
            'wsgi.url_scheme': 'http',
        }
        # CGI vars PEP 3333 requires, for a front that does not send them.
        self.cgi_defaults = {
            'SCRIPT_NAME': '',
            'SERVER_NAME': 'localhost',
            'SERVER_PORT': '80',
            'SERVER_PROTOCOL': 'HTTP/1.0',
        }
        self.listeners = []
        self.by_fd = {}
        self.kept = {}
        self.registered = set()  # fds of the kept connections in self.epoll
        # Kept connections (the router's, between requests) wait in one epoll shared by the threads,
        # one-shot so each next request goes to exactly one thread; every thread's own epoll (see
        # serve_forever) watches the listeners and this epoll's fd.
        self.epoll = select.epoll()
        for fd in spec['fds']:
            s = socket.socket(fileno=fd)
            s.listen(spec.get('listen') or 100)
            s.setblocking(False)
            self.listeners.append(s)
            self.by_fd[s.fileno()] = (s, int(s.family))

    # The serving loop of one thread. Its own epoll holds the listeners (EPOLLEXCLUSIVE: a new
    # connection wakes one thread of one process) and the shared epoll of kept connections, so an idle
    # kept connection never pins a thread: there can be more kept connections than threads.
    def serve_forever(self, index):
        ep = select.epoll()
        shared = self.epoll
        shared_fd = shared.fileno()
        ep.register(shared_fd, select.EPOLLIN)
        for fd in self.by_fd:
            ep.register(fd, LISTEN_IN)
        by_fd = self.by_fd
        try:
            while not self.stopping.is_set():
                try:
                    events = ep.poll(0.5, 1)
                except InterruptedError:
                    continue
                for fd, _ev in events:
                    if fd == shared_fd:
                        conn = None
                        for kfd, _kev in shared.poll(0, 1):
                            with self.lock:
                                conn = self.kept.pop(kfd, None)
                        if conn is None:
                            continue
                    else:
                        listener, family = by_fd[fd]
                        try:
                            cfd, _addr = listener._accept()
                        except (BlockingIOError, InterruptedError):
                            continue  # another thread or process took it
                        except OSError as e:
                            log('WARN', 'accept failed', error=str(e))
                            continue
                        # The C socket type, blocking (accept4 without SOCK_NONBLOCK): socket.accept()'s
                        # Python wrapper and enum conversions cost more than a hello world's bookkeeping.
                        conn = _socket.socket(family, SOCK_STREAM, 0, cfd)
                    self.inflight[index] = True
                    try:
                        keep = self.handle(conn)
                    except Exception:  # a bug of usher's own: lose this connection, not the thread
                        log_traceback('internal error while serving a request; connection closed')
                        keep = False
                    self.inflight[index] = False
                    self.done(conn, keep)
        finally:
            ep.close()

    def done(self, conn, keep):
        """After a request: keep the connection for the next one (usher's router), or close it."""
        served = next(self.served)
        if keep and not self.stopping.is_set():
            with self.lock:
                fd = conn.fileno()
                self.kept[fd] = conn
                if fd in self.registered:
                    self.epoll.modify(fd, ONESHOT_IN)
                else:
                    self.epoll.register(fd, ONESHOT_IN)
                    self.registered.add(fd)
        else:
            self.close_conn(conn)
        if self.max_requests and served >= self.max_requests and not self.stopping.is_set():
            log('INFO', 'max-requests reached; recycling this worker', requests=served)
            self.stopping.set()

    def close_conn(self, conn):
        fd = conn.fileno()
        # Only kept connections were ever registered: no failing epoll_ctl per request. The fd is this
        # thread's until closed, so no other thread can add it meanwhile.
        if fd in self.registered:
            with self.lock:
                self.registered.discard(fd)
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        conn.close()  # the FIN that ends a close-delimited response (no other process holds this fd)

    def close_kept(self):
        with self.lock:
            kept, self.kept = self.kept, {}
        for conn in kept.values():
            self.close_conn(conn)

    def handle(self, conn):
        """Serve one request; returns True when the connection is to be kept for the next one."""
        try:
            env, pending, modifier2 = recv_head(conn, self.buffer_size)
        except IdleClose:
            return False
        except ProtocolError as e:
            log('WARN', 'bad uwsgi packet', status=e.status, reason=str(e))
            simple_response(conn, e.status, STATUS_TEXT.get(e.status, 'Bad Request'))
            return False
        except EOFError as e:
            log('WARN', 'bad uwsgi packet', reason=str(e))
            return False
        except (BlockingIOError, socket.timeout):
            log('WARN', 'uwsgi peer sent no complete request within socket-timeout; closing', seconds=SOCKET_TIMEOUT_S)
            return False
        except OSError:
            return False
        return self.run_app(conn, env, pending, modifier2 == KEEPALIVE_MODIFIER2)

    def run_app(self, conn, vars_, pending, keep):
        started = monotonic()
        method = vars_.get('REQUEST_METHOD')
        if method not in COMMON_METHODS and (not method or not _TOKEN.match(method)):
            log('WARN', 'bad uwsgi packet', status=400, reason='bad REQUEST_METHOD %r' % method if method else 'no REQUEST_METHOD in the uwsgi vars')
            simple_response(conn, 400, 'Bad Request')
            return False
        # The request's vars override the CGI defaults; nothing overrides the wsgi.* keys.
        env = {**self.cgi_defaults, **vars_, **self.wsgi_fixed}
        cl = env.get('CONTENT_LENGTH')
        if cl:
            if not cl.isdigit():
                log('WARN', 'bad uwsgi packet', status=400, reason='bad CONTENT_LENGTH %r' % cl)
                simple_response(conn, 400, 'Bad Request')
                return False
            length = int(cl)
        else:
            length = 0
            if cl is not None:  # Nginx's uwsgi_params send it empty: PEP 3333 says absent
                del env['CONTENT_LENGTH']
        if not env.get('CONTENT_TYPE', True):
            del env['CONTENT_TYPE']
        if 'PATH_INFO' not in env:
            uri = env.get('REQUEST_URI', '/')
            env['PATH_INFO'] = uri.split('?', 1)[0][len(env['SCRIPT_NAME']):]
        if 'QUERY_STRING' not in env:
            env['QUERY_STRING'] = ''
        https = env.get('HTTPS')
        scheme = env.get('REQUEST_SCHEME') or env.get('UWSGI_SCHEME')
        if (https and https.lower() in ('on', '1')) or (scheme and scheme.lower() == 'https'):
            env['wsgi.url_scheme'] = 'https'
        inp = env['wsgi.input'] = Input(conn, pending, length)
        res = Response(conn, method == 'HEAD', keep and not self.stopping.is_set())
        uri = env.get('REQUEST_URI') or env['PATH_INFO']
        if self.harakiri:
            me = threading.get_ident()
            self.busy[me] = (started, uri)
        result = None
        aborted = False
        try:
            result = self.app(env, res.start_response)
            if isinstance(result, FileWrapper) and res.status is not None and res.sendfile(result):
                pass
            else:
                for chunk in result:
                    if chunk:
                        res.write(chunk)
                    elif type(chunk) is not bytes:
                        raise SpecError('response body chunks must be bytes, got %s' % type(chunk).__name__)
                if res.status is None:
                    raise SpecError('the app returned without calling start_response()')
                res.finish()
        except (BrokenPipeError, ConnectionResetError):
            aborted = True
            log('INFO', 'client went away mid-response', uri=uri)
        except BodyTimeout as e:  # the peer's fault, not the app's: no traceback
            log('WARN', 'uwsgi peer stopped sending the request body; closing', reason=str(e), uri=uri)
            if not res.sent:
                res.status = '408 Request Timeout'
                simple_response(conn, 408, 'Request Timeout')
            res.keep = False
            inp.remaining = 0  # nothing to drain: the peer is not sending
        except SpecError as e:
            log('ERROR', 'the app broke PEP 3333: %s' % e, uri=uri)
            if not res.sent:
                res.status = '500 Internal Server Error'
                simple_response(conn, 500, 'Internal Server Error')
            res.keep = False
        except Exception:
            log_traceback('the app raised an exception', uri=uri)
            if not res.sent:
                res.status = '500 Internal Server Error'
                simple_response(conn, 500, 'Internal Server Error')
            res.keep = False
        finally:
            if hasattr(result, 'close'):
                try:
                    result.close()
                except Exception:
                    log_traceback('the app\'s iterable failed in close()', uri=uri)
            if self.harakiri:
                self.busy.pop(me, None)
        if not aborted and inp.remaining > 0:
            inp.drain(time.monotonic() + DRAIN_TIMEOUT_S)
            if inp.remaining > 0:
                res.keep = False
        if self.logging:
            log('INFO', '%s %s %s' % (method, uri, (res.status or '-')[:3]), bytes=res.written,
                ms='%.1f' % ((time.monotonic() - started) * 1000), addr=env.get('REMOTE_ADDR'),
                aborted=True if aborted else None)
        return res.keep and not aborted and not self.stopping.is_set()

    def watchdog(self):
        """harakiri: a request running too long takes its worker down; the master replaces it."""
        while not self.stopping.is_set():
            time.sleep(1)
            now = time.monotonic()
            for start, uri in list(self.busy.values()):
                if now - start > self.harakiri:
                    log('ERROR', 'harakiri: request ran longer than %ds; killing this worker' % self.harakiri, uri=uri)
                    os._exit(9)


# --------------------------------------------------------------------------------------------- app

def load_app(spec):
    cwd = os.getcwd()
    for p in reversed(spec.get('pythonpath') or []):
        if p not in sys.path:
            sys.path.insert(0, p)
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    name = spec.get('callable') or 'application'
    if spec.get('wsgiFile'):
        path = spec['wsgiFile']
        if not os.path.exists(path):
            raise LookupError('wsgi-file not found: %s' % path)
        modname = 'uwsgi_file_' + ''.join(c if c.isalnum() else '_' for c in os.path.splitext(path)[0])
        mspec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(mspec)
        sys.modules[modname] = module
        mspec.loader.exec_module(module)
        where = path
    else:
        target = spec.get('module') or ''
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


def main():
    global PROC, SOCKET_TIMEOUT_S, RCVTIMEO
    try:
        spec = json.loads(os.environ['USHER_WORKER'])
    except (KeyError, ValueError):
        sys.stderr.write('usher worker: USHER_WORKER is not set or not JSON; workers are started by the usher master\n')
        sys.exit(EXIT_BOOT)
    SOCKET_TIMEOUT_S = int(spec.get('socketTimeout') or SOCKET_TIMEOUT_S)
    RCVTIMEO = struct.pack('ll', SOCKET_TIMEOUT_S, 0)
    PROC = 'worker %s' % spec['id']
    fd = os.environ.get('NODE_CHANNEL_FD')
    channel = Channel(int(fd) if fd else None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if spec.get('chdir'):
        os.chdir(spec['chdir'])
    try:
        app = load_app(spec)
    except Exception as e:
        log('ERROR', 'app could not be loaded', error='%s: %s' % (type(e).__name__, e))
        # The app's frames only: the runner's own and the import machinery's say nothing to its author.
        tb = e.__traceback__
        while tb is not None and (tb.tb_frame.f_code.co_filename == __file__ or tb.tb_frame.f_code.co_filename.startswith('<frozen')):
            tb = tb.tb_next
        if not isinstance(e, LookupError):  # usher's own finding: the line above says it all
            with _log_lock:
                traceback.print_exception(type(e), e, tb)
                sys.stderr.flush()
        channel.send({'type': 'app-error', 'message': '%s: %s' % (type(e).__name__, e)})
        sys.exit(EXIT_APP_LOAD)
    try:
        worker = Worker(spec, app, channel)
    except OSError as e:
        log('ERROR', 'worker failed to boot', error=str(e))
        sys.exit(EXIT_BOOT)

    def on_term(_signum, _frame):
        worker.stopping.set()
    signal.signal(signal.SIGTERM, on_term)

    def ipc_reader():
        for msg in channel.messages():
            if isinstance(msg, dict) and msg.get('type') == 'stop':
                worker.stopping.set()
        # EOF: the master is gone
        if not worker.stopping.is_set():
            log('WARN', 'master went away; exiting')
            worker.stopping.set()

    def heartbeat():
        while not worker.stopping.wait(HEARTBEAT_S):
            channel.send({'type': 'heartbeat'})

    threads = [threading.Thread(target=worker.serve_forever, args=(i,), daemon=True, name='usher-%d' % i)
               for i in range(spec['threads'])]
    for t in threads:
        t.start()
    for target in (ipc_reader, heartbeat) + ((worker.watchdog,) if worker.harakiri else ()):
        threading.Thread(target=target, daemon=True).start()
    channel.send({'type': 'ready', 'pid': os.getpid()})

    while not worker.stopping.wait(1.0):
        pass
    log('INFO', 'stopping', inflight=sum(worker.inflight))
    worker.close_kept()
    for t in threads:
        t.join()  # each finishes its request, then sees `stopping` within one poll interval
    worker.errors.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == '__main__':
    main()
