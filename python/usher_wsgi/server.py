"""server: the serving loop: accept (or take a kept connection), read the head, run the app, answer,
then keep or close the connection; the live counters and harakiri's watchdog. Must not: parse the
uwsgi bytes itself (codec), build the environ (environ) or response bytes (wsgi), gather the access
line's facts (facts), or talk to the master (main owns the channel).
"""
import itertools
import select
import socket
import _socket
import threading
import time
from bisect import bisect_left
from socket import SOCK_STREAM
from time import monotonic

from . import environ
from .contract import RT_BUCKETS_US, STATUS_CLASSES
from .codec import KEEPALIVE_MODIFIER2, IdleClose, ProtocolError, recv_head
from .environ import DRAIN_TIMEOUT_S
from .facts import AccessFacts, Sent
from .log import AccessLog, ErrorStream
from .wsgi import STATUS_TEXT, BodyTimeout, FileWrapper, Input, Response, SpecError, buffer_body, simple_response

ONESHOT_IN = select.EPOLLIN | select.EPOLLONESHOT
# Listening sockets are shared by every thread of every worker process, each waiting in its own epoll:
# EPOLLEXCLUSIVE wakes one of those epolls per new connection instead of all of them (each would try
# accept() and all but one get EAGAIN). A thread that still loses the race just gets EAGAIN.
LISTEN_IN = select.EPOLLIN | getattr(select, 'EPOLLEXCLUSIVE', 0)

# Where a thread's counter list keeps the status classes and the response-time buckets.
_CODES = 4
_HIST = _CODES + STATUS_CLASSES


def count(st, status, sent, dur_us):
    """A completed request in its thread's counters (only that thread writes them: no lock)."""
    st[0] += 1
    st[1] += sent
    st[3] += dur_us
    cls = status // 100
    if 1 <= cls <= STATUS_CLASSES:
        st[_CODES - 1 + cls] += 1
    st[_HIST + bisect_left(RT_BUCKETS_US, dur_us)] += 1


class Worker:
    def __init__(self, cfg, app, log):
        self.cfg = cfg
        self.app = app
        self.log = log
        self.buffer_size = cfg.buffer_size
        self.timeo = cfg.rcvtimeo
        self.logging = cfg.logging
        self.harakiri = cfg.harakiri
        self.max_requests = cfg.max_requests
        self.post_buffering = cfg.post_buffering
        # static-map & co: served before the app, with os.sendfile (static.py). Imported only when
        # configured (its imports cost ~0.3 MiB); the fork-server imports it before forking then.
        self.static = None
        if cfg.static:
            from . import static
            self.static_mod = static
            self.static = static.handler(cfg.static, log)
        # `ready-path`: 200 while serving, 503 once the master drains this worker before a stop
        self.ready_path = cfg.ready_path
        self.draining = False
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        # Live counters, per serving thread so that only that thread writes them (plain ints under the
        # GIL, no lock per request); counters() sums them for a heartbeat.
        # [requests, tx (body bytes), exceptions (the app raised: 500), rt_us (sum of response times),
        #  then one count per status class (1xx..5xx), then one per response-time bucket (RT_BUCKETS_US
        #  and slower): count() below]
        self.stats = [[0] * (_HIST + len(RT_BUCKETS_US) + 1) for _ in range(cfg.threads)]
        self.starts = [0.0] * cfg.threads  # monotonic start of the thread's request in flight; 0.0 idle
        self.what = [None] * cfg.threads  # (method, uri) of it, kept only for harakiri's log line
        self.served = itertools.count(1)  # max-requests: next() is atomic under the GIL
        self.exit_reason = None  # (reason, detail) once the worker decided to recycle itself
        self.errors = ErrorStream(log)
        # Access lines: the format compiled once (the master already warned about it).
        self.access = AccessLog(cfg.access_log, 'worker %s' % cfg.id)
        self.facts = AccessFacts(self.access, log, cfg.id)
        # The wsgi.* keys every environ gets; a request's vars can't override them (run_app).
        self.wsgi_fixed = {
            'wsgi.version': (1, 0),
            'wsgi.errors': self.errors,
            'wsgi.multithread': cfg.threads > 1,
            'wsgi.multiprocess': cfg.processes > 1,
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
        for fd in cfg.fds:
            s = socket.socket(fileno=fd)
            s.listen(cfg.listen)
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
                            self.log('WARN', 'accept failed', error=str(e))
                            continue
                        # The C socket type, blocking (accept4 without SOCK_NONBLOCK): socket.accept()'s
                        # Python wrapper and enum conversions cost more than a hello world's bookkeeping.
                        conn = _socket.socket(family, SOCK_STREAM, 0, cfd)
                    try:
                        keep = self.handle(conn, index)
                    except Exception:  # a bug of usher's own: lose this connection, not the thread
                        self.log.traceback('internal error while serving a request; connection closed')
                        keep = False
                    self.starts[index] = 0.0
                    self.done(conn, keep)
        finally:
            ep.close()

    def done(self, conn, keep):
        """After a request: keep the connection for the next one (usher's router), or close it."""
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

    def recycle(self, reason, detail):
        """Stop taking requests, to exit on purpose (main says `exiting` and uses the reason's code)."""
        with self.lock:
            if self.stopping.is_set():
                return
            self.exit_reason = (reason, detail)
            self.stopping.set()
        self.log('INFO', '%s reached; recycling this worker' % reason, detail=detail)

    def counters(self):
        """The contract's live counters (COUNTER_KEYS), summed over the serving threads."""
        busy = [s for s in self.starts if s]
        oldest = 0
        if busy:
            oldest = int(time.time() * 1000 - (monotonic() - min(busy)) * 1000)
        total = [sum(col) for col in zip(*self.stats)]
        return {'requests': total[0], 'inflight': len(busy), 'oldest': oldest, 'tx': total[1], 'exceptions': total[2],
                'rtUs': total[3], 'harakiri': 0, 'codes': total[_CODES:_HIST], 'rtHist': total[_HIST:]}

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

    def handle(self, conn, index):
        """Serve one request; returns True when the connection is to be kept for the next one."""
        try:
            env, pending, modifier2 = recv_head(conn, self.buffer_size, self.timeo)
        except IdleClose:
            return False
        except ProtocolError as e:
            self.log('WARN', 'bad uwsgi packet', status=e.status, reason=str(e))
            simple_response(conn, e.status, STATUS_TEXT.get(e.status, 'Bad Request'))
            return False
        except EOFError as e:
            self.log('WARN', 'bad uwsgi packet', reason=str(e))
            return False
        except (BlockingIOError, socket.timeout):
            self.log('WARN', 'uwsgi peer sent no complete request within socket-timeout; closing', seconds=self.cfg.socket_timeout)
            return False
        except OSError:
            return False
        return self.run_app(conn, env, pending, modifier2 == KEEPALIVE_MODIFIER2, index)

    def run_app(self, conn, vars_, pending, keep, index):
        started = monotonic()
        method = vars_.get('REQUEST_METHOD')
        bad = environ.bad_method(method)
        if bad is not None:
            self.log('WARN', 'bad uwsgi packet', status=400, reason=bad)
            simple_response(conn, 400, 'Bad Request')
            return False
        if self.ready_path is not None and (method == 'GET' or method == 'HEAD') and \
                (vars_.get('REQUEST_URI') or vars_.get('PATH_INFO')) == self.ready_path:
            draining = self.draining or self.stopping.is_set()
            simple_response(conn, 503 if draining else 200, 'draining' if draining else 'ready')
            return False
        if self.static is not None and (method == 'GET' or method == 'HEAD'):
            served = self.serve_static(conn, method, vars_, keep, index, started)
            if served is not None:
                return served
        # The request's vars override the CGI defaults; nothing overrides the wsgi.* keys.
        env = {**self.cgi_defaults, **vars_, **self.wsgi_fixed}
        length = environ.body_length(conn, env, vars_, pending, self.cfg, self.log)
        if length is None:
            return False  # answered (400, 413)
        environ.complete(env)
        inp = env['wsgi.input'] = Input(conn, pending, length, self.cfg)
        res = Response(conn, method == 'HEAD', keep and not self.stopping.is_set())
        uri = env.get('REQUEST_URI') or env['PATH_INFO']
        self.starts[index] = started
        if self.harakiri:
            self.what[index] = (method, uri)
        aborted = self.call_app(conn, env, inp, res, length, uri, index)
        if not aborted and inp.remaining > 0:
            inp.drain(monotonic() + DRAIN_TIMEOUT_S)
            if inp.remaining > 0:
                res.keep = False
        dur_us = int((monotonic() - started) * 1000000)
        status = int(res.status[:3]) if res.status else 0
        count(self.stats[index], status, res.written, dur_us)
        acc = self.access
        if self.logging or acc.selective:
            if self.logging or acc.selected(status, dur_us, res.written):
                self.facts.line(env, vars_, res, status, dur_us, length, index, aborted)
        if self.max_requests and next(self.served) >= self.max_requests:
            self.recycle('max-requests', 'served %d requests (max-requests %d)' % (self.max_requests, self.max_requests))
        return res.keep and not aborted and not self.stopping.is_set()

    def call_app(self, conn, env, inp, res, length, uri, index):
        """Run the app and send what it returns; True when the client went away mid-response. An app
        that fails gets a 500 (if nothing was sent yet) and the connection is not kept."""
        result = None
        aborted = False
        buffered = None
        try:
            if length and self.post_buffering:
                buffered = env['wsgi.input'] = buffer_body(inp, length, self.post_buffering)
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
            self.log('INFO', 'client went away mid-response', uri=uri)
        except BodyTimeout as e:  # the peer's fault, not the app's: no traceback
            self.log('WARN', 'uwsgi peer stopped sending the request body; closing', reason=str(e), uri=uri)
            if not res.sent:
                res.status = '408 Request Timeout'
                simple_response(conn, 408, 'Request Timeout')
            res.keep = False
            inp.remaining = 0  # nothing to drain: the peer is not sending
        except SpecError as e:
            self.log('ERROR', 'the app broke PEP 3333: %s' % e, uri=uri)
            self.stats[index][2] += 1
            if not res.sent:
                res.status = '500 Internal Server Error'
                simple_response(conn, 500, 'Internal Server Error')
            res.keep = False
        except Exception:
            self.log.traceback('the app raised an exception', uri=uri)
            self.stats[index][2] += 1
            if not res.sent:
                res.status = '500 Internal Server Error'
                simple_response(conn, 500, 'Internal Server Error')
            res.keep = False
        finally:
            if buffered is not None:
                buffered.close()  # a post-buffering temp file is deleted here
            if hasattr(result, 'close'):
                try:
                    result.close()
                except Exception:
                    self.log.traceback('the app\'s iterable failed in close()', uri=uri)
        return aborted

    def serve_static(self, conn, method, vars_, keep, index, started):
        """A static file, if the request maps to one: counted and logged as any request. None: not static."""
        k = keep and not self.stopping.is_set() and vars_.get('CONTENT_LENGTH', '') in ('', '0')
        s = self.static_mod
        r = self.static.serve(conn, method, s.target_from_vars(vars_), s.headers_from_environ(vars_), k)
        if r is None:
            return None
        status, sent, complete = r
        dur_us = int((monotonic() - started) * 1000000)
        code = int(str(status)[:3])
        count(self.stats[index], code, sent, dur_us)
        if self.logging or (self.access.selective and self.access.selected(code, dur_us, sent)):
            env = vars_ if 'PATH_INFO' in vars_ else dict(vars_, PATH_INFO='')
            self.facts.line(env, vars_, Sent(sent), code, dur_us, 0, index, not complete)
        if self.max_requests and next(self.served) >= self.max_requests:
            self.recycle('max-requests', 'served %d requests (max-requests %d)' % (self.max_requests, self.max_requests))
        return k and complete and not self.stopping.is_set()

    def overdue(self):
        """harakiri: (method, uri, seconds) of a request in flight for longer than `harakiri`, or None."""
        now = monotonic()
        for i, start in enumerate(self.starts):
            if start and now - start > self.harakiri:
                what = self.what[i] or ('-', '-')
                return what[0], what[1], now - start
        return None

