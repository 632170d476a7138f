"""forkserver: uWSGI's default way (gunicorn's `preload_app`): one process loads the app once, freezes
what it imported (gc.freeze, so the collector never writes to those pages and they stay shared), and
forks the workers when the master asks. Each forked worker is then an ordinary worker (main.serve):
same sockets (inherited fds), same contract, its channel to the master a unix socket it connects to.
Must not: serve requests, start threads (a fork copies only the forking thread), or decide how many
workers run (the master's arbiter does; src/master/forkserver.ts is the other side).

Protocol with the master (private to src/master/forkserver.ts; the workers speak the contract):
  environment  USHER_WORKER (the worker spec, id 0), USHER_FORKSERVER_CONTROL (the master's control
               socket path), USHER_FORKSERVER_PREFORK (the workers to fork once loaded, as fork requests
               in a JSON list), NODE_CHANNEL_FD (fd 3: JSON lines with the master). Started early
               (handoff.py), it gets these in a `setup` message instead.
  fd 3, to the master   {"type":"loaded","pid","req","rep","forked"}  the app is loaded; `req`/`rep` are
                        this process's fds of two pipes the master opens through /proc/PID/fd (blocking);
                        `forked`: [[id, pid or -errno], ...] of the prefork list
                        {"type":"app-error","message"}, then exit EXIT_APP_LOAD (as a worker would)
                        {"type":"reaped","pid","code","signal"}  a worker this process forked is gone
  fd 3, from the master {"type":"retire"}  fork no more; exit once the last worker is reaped
  req pipe, one JSON line per fork {"id","generation","maxRequests"}; rep pipe, the answer: "PID\\n"
                        (or "-ERRNO\\n"). The master waits for it, so it knows the pid at once.
  The worker says {"type":"hello","pid"} first on its control connection, then the contract.
  EOF on fd 3 (the master is gone): exit. The workers see their own channel close and exit as well.

What a fork shares that it must not (uWSGI's advice, README "Fork-server or lazy-apps"): connections,
files and threads an app opens at import are shared or lost; `random` is reseeded in each worker.
"""
import errno
import gc
import json
import os
import select
import signal
import socket
import sys
import time

from . import contract, handoff
from .proctitle import set_title
from .channel import Channel
from .log import Log
from .main import ignore_master_signals, load_or_exit, read_config, serve

CONTROL_ENV = 'USHER_FORKSERVER_CONTROL'
PREFORK_ENV = 'USHER_FORKSERVER_PREFORK'


def run():
    channel = Channel(int(os.environ['NODE_CHANNEL_FD']))
    ignore_master_signals()
    pending = b''
    if os.environ.get(handoff.EARLY_ENV):
        # Started before the master bound its sockets (handoff.py): they come over the channel first.
        try:
            pending = handoff.receive(channel)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            Log('fork-server')('ERROR', 'fork-server did not get its sockets from the master', error='%s: %s' % (type(e).__name__, e))
            sys.exit(contract.EXIT_BOOT)
        set_title(os.environ.get('USHER_PROCTITLE', ''))
    cfg, _ = read_config()
    log = Log('fork-server')
    # SIGTERM to the whole group (systemd's control-group kill, `timeout`, a terminal's kill): the fork-server
    # stays to reap its workers while they finish; the master ends it (`retire`, or EOF on fd 3).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # ...and blocked, not only ignored: a worker forked from here inherits both, and the master may stop
    # it (SIGTERM: a stop or reload) before its first line of Python runs (tens of ms on a busy machine).
    # Ignored, that SIGTERM would be lost and the worker serve on until the master's mercy ran out;
    # blocked, Linux keeps it pending (a blocked signal is never discarded as ignored) until serve() has
    # its graceful handler and unblocks it. A fork clears the pending set: none sent here reaches a worker.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    t0 = time.monotonic()
    app = load_or_exit(cfg, log, channel)
    if cfg.static:
        from . import static  # noqa: F401 (imported once here, its pages shared, not once per forked worker)
    FS(cfg, app, channel, log).loop(time.monotonic() - t0, pending)


def release_free_heap():
    """Hand the heap's free pages back to the kernel before the first fork. Loading the app (compiling
    sources without a bytecode cache, building import-time tables) freed a lot that glibc keeps mapped:
    every worker would inherit those dirty pages, and they count in the fork-server's memory. Once, at
    load, so no request pays for it. Not glibc (musl, macOS): nothing to do."""
    try:
        import ctypes  # only here: the workers never call it, but they share its pages with this process
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, ImportError):
        return
    trim(0)


class FS:
    def __init__(self, cfg, app, channel, log):
        self.cfg = cfg
        self.app = app
        self.channel = channel
        self.log = log
        self.control = os.environ[CONTROL_ENV]
        self.req_r, self.req_w = os.pipe()
        self.rep_r, self.rep_w = os.pipe()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.children = set()
        self.retiring = False
        # The workers to fork as soon as the app is loaded (PREFORK_ENV: a new generation's).
        self.prefork = json.loads(os.environ.get(PREFORK_ENV) or '[]')

    def loop(self, load_s, msg_buf=b''):
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        # Everything the app imported is old now: frozen, the collector neither scans nor touches it, so
        # its pages stay shared with the workers instead of being copied at each worker's first GC.
        # Only the young generations are collected first (~0.2 ms): a full collection walks every object
        # the app imported (~10 ms for Django, all of it on the way to the first served request) to find
        # a handful of cycles (5 objects for Django), which stay frozen, shared and never freed instead.
        gc.collect(1)
        gc.freeze()
        release_free_heap()
        self.log('INFO', 'app loaded; ready to fork workers', load_ms=int(load_s * 1000), frozen=gc.get_freeze_count())
        # A new generation's workers are forked at once, one after the other, not one per request from
        # the master: each request waits for the master's turn (~5 ms on a busy machine), and the
        # workers forked first would start serving later. The master learns their pids from `loaded`.
        forked = [[req.get('id'), self.fork_worker(req)] for req in self.prefork]
        self.channel.send({'type': 'loaded', 'pid': os.getpid(), 'req': self.req_w, 'rep': self.rep_r, 'forked': forked})
        master = self.channel.sock
        req_buf = b''
        while b'\n' in msg_buf:  # what the master sent right after an early fork-server's setup
            line, msg_buf = msg_buf.split(b'\n', 1)
            self.on_master(line)
        while True:
            try:
                ready, _, _ = select.select([master, self.req_r, self.wake_r], [], [])
            except InterruptedError:
                continue
            if self.wake_r in ready:
                try:
                    os.read(self.wake_r, 4096)
                except BlockingIOError:
                    pass
                self.reap()
            if self.req_r in ready:
                chunk = os.read(self.req_r, 65536)
                if not chunk:
                    return self.leave('the master closed its fork requests')
                req_buf += chunk
                while b'\n' in req_buf:
                    line, req_buf = req_buf.split(b'\n', 1)
                    self.fork(line)
            if master in ready:
                try:
                    chunk = master.recv(65536)
                except OSError:
                    chunk = b''
                if not chunk:
                    self.remove_control()
                    return self.leave('master went away')
                msg_buf += chunk
                while b'\n' in msg_buf:
                    line, msg_buf = msg_buf.split(b'\n', 1)
                    self.on_master(line)
            if self.retiring and not self.children:
                os._exit(contract.EXIT_OK)

    def on_master(self, line):
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if isinstance(msg, dict) and msg.get('type') == 'retire':
            self.retiring = True

    def remove_control(self):
        """The master is gone: a master killed with SIGKILL could not remove its control socket and the
        private folder that holds it, so this process does (a master that exited normally already did)."""
        try:
            os.unlink(self.control)
            os.rmdir(os.path.dirname(self.control))
        except OSError:
            pass

    def leave(self, why):
        self.log('INFO', '%s; exiting' % why, workers=len(self.children))
        os._exit(contract.EXIT_OK)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            code, sig = None, None
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
            elif os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
            else:
                continue  # stopped or continued, not gone (waitpid reports those only when asked)
            self.channel.send({'type': 'reaped', 'pid': pid, 'code': code, 'signal': sig})

    def fork(self, line):
        """One fork the master asked for on the req pipe; the answer, on the rep pipe: the pid or -errno."""
        try:
            req = json.loads(line)
        except ValueError:
            req = None
        os.write(self.rep_w, b'%d\n' % self.fork_worker(req))

    def fork_worker(self, req):
        """Fork the worker `req` ({"id","generation","maxRequests"}) describes; its pid, or -errno."""
        try:
            worker_id, max_requests = int(req['id']), int(req['maxRequests'])
        except (KeyError, TypeError, ValueError):
            return -errno.EINVAL
        if self.retiring:
            return -errno.ESHUTDOWN
        try:
            pid = os.fork()
        except OSError as e:
            return -(e.errno or errno.EAGAIN)
        if pid == 0:
            self.become_worker(worker_id, max_requests)  # never returns
        self.children.add(pid)
        return pid

    def become_worker(self, worker_id, max_requests):
        code = contract.EXIT_BOOT
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # SIGTERM stays ignored and blocked (run()) until serve() sets its graceful stop and unblocks it.
            for fd in (self.req_r, self.req_w, self.rep_r, self.rep_w, self.wake_r, self.wake_w):
                os.close(fd)
            self.channel.sock.close()  # the fork-server's channel: only the master and it hold it
            # `random`'s module generator reseeds itself at fork (os.register_at_fork); an app's own
            # generators do not (README). Not imported here: a worker that never uses it need not load it.
            os.environ['USHER_WORKER_ID'] = str(worker_id)
            pattern = os.environ.get('USHER_PROCTITLE_WORKERS')
            if pattern:
                set_title(pattern.replace('%d', str(worker_id)))
            log = Log('worker %d' % worker_id)
            # The fork-server's config, checked once, with this worker's own fields: every line of code a
            # forked worker runs before it serves copies the pages it touches (~25 us each here).
            cfg = self.cfg.forked(worker_id, max_requests)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.control)
            channel = Channel(sock.detach())
            channel.send({'type': 'hello', 'pid': os.getpid()})
            serve(cfg, self.app, log, channel)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else contract.EXIT_BOOT
        except BaseException as e:  # a forked worker must never return into the fork-server's loop
            try:
                Log('worker %d' % worker_id)('ERROR', 'forked worker failed to start', error='%s: %s' % (type(e).__name__, e))
            except BaseException:
                pass
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
