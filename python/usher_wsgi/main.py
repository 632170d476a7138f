"""main: the worker's life: read the spec, load the app, start the serving threads, tell the master
`ready`, heartbeat, act on the master's messages and signals, and wind down. Must not: serve requests
(server does), or parse the spec beyond handing it to Config.

Contract with the master (src/ipc.ts, src/master/spawn.ts): USHER_WORKER (JSON spec), NODE_CHANNEL_FD
(Node's IPC channel; EOF means the master is gone: exit). SIGTERM = graceful stop (finish in-flight
requests, exit 0); SIGINT/SIGHUP are the master's. Exit codes are contract.EXIT_*.
Per connection: one uwsgi request in, a raw HTTP/1.1 response out, the end of the body marked by closing
the connection (as Nginx and Apache expect). Only usher's own router asks (modifier2 = 1) to keep the
connection: then the body is framed by Content-Length or chunked, and the connection serves again.
The unread part of a request body is drained before closing, so the proxy never sees a reset.
"""
import importlib
import os
import time
import signal
import sys
import threading

from . import contract
from .app import load_app
from .channel import Channel
from .config import BadSpec, Config, parse_spec
from .log import Log
from .server import Worker

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


_IMPORTLIB_DIR = os.path.dirname(importlib.__file__) + os.sep


def _app_frames(tb):
    """The app's frames only: the runner's own and the import machinery's say nothing to its author."""
    while tb is not None:
        f = tb.tb_frame.f_code.co_filename
        if not (f.startswith(PACKAGE_DIR + os.sep) or f.startswith('<frozen') or f.startswith(_IMPORTLIB_DIR)):
            break
        tb = tb.tb_next
    return tb


def main():
    """A worker started by the master (lazy-apps, or a Node-spawned fallback): load the app, then serve."""
    cfg, log = read_config()
    fd = os.environ.get('NODE_CHANNEL_FD')
    channel = Channel(int(fd) if fd else None)
    ignore_master_signals()
    app = load_or_exit(cfg, log, channel)
    serve(cfg, app, log, channel)


def read_config():
    try:
        cfg = Config(parse_spec(os.environ.get(contract.WORKER_SPEC_ENV)))
    except BadSpec as e:
        Log('worker %s' % os.environ.get('USHER_WORKER_ID', '?'))('ERROR', 'worker cannot start: %s' % e, exit=e.exit_code)
        sys.exit(e.exit_code)
    return cfg, Log('worker %s' % cfg.id)


def ignore_master_signals():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def load_or_exit(cfg, log, channel):
    """chdir, then the app; an app that cannot load exits EXIT_APP_LOAD after one traceback and `app-error`."""
    if cfg.chdir:
        os.chdir(cfg.chdir)
    if cfg.limit_as:
        # `limit-as`: past it an allocation fails (MemoryError) instead of the machine swapping
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (cfg.limit_as, cfg.limit_as))
    try:
        return load_app(cfg)
    except Exception as e:
        log('ERROR', 'app could not be loaded', error='%s: %s' % (type(e).__name__, e))
        if not isinstance(e, LookupError):  # usher's own finding: the line above says it all
            log.exception(e, _app_frames(e.__traceback__))
        channel.send({'type': 'app-error', 'message': '%s: %s' % (type(e).__name__, e)})
        sys.exit(contract.EXIT_APP_LOAD)


def serve(cfg, app, log, channel):
    """Serve until stopped, then exit with the contract's code (never returns)."""
    try:
        worker = Worker(cfg, app, log)
    except OSError as e:
        log('ERROR', 'worker failed to boot', error=str(e))
        sys.exit(contract.EXIT_BOOT)

    def on_term(_signum, _frame):
        worker.stopping.set()
    signal.signal(signal.SIGTERM, on_term)
    # A forked worker starts with SIGTERM blocked (forkserver.py): one the master sent meanwhile runs on_term now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    threads = [threading.Thread(target=worker.serve_forever, args=(i,), daemon=True, name='usher-%d' % i)
               for i in range(cfg.threads)]
    for t in threads:
        t.start()
    # `ready` as soon as the serving threads run: the master's messages wait in the channel until the
    # reader thread below takes them, and each Thread.start() waits for the new thread to be scheduled
    # (on a busy machine, with the other workers forking beside it, that is milliseconds each).
    channel.send({'type': 'ready', 'pid': os.getpid(), 'contract': contract.CONTRACT_VERSION})
    for target in (ipc_loop,) + ((watchdog,) if cfg.harakiri else ()):
        threading.Thread(target=target, args=(worker, channel, log), daemon=True).start()

    while not worker.stopping.wait(1.0):
        pass
    log('INFO', 'stopping', inflight=worker.counters()['inflight'])
    worker.close_kept()
    for t in threads:
        t.join()  # each finishes its request, then sees `stopping` within one poll interval
    worker.errors.flush()
    log.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    if worker.exit_reason is not None:
        reason, detail = worker.exit_reason
        channel.send({'type': 'exiting', 'reason': reason, 'detail': detail, 'counters': worker.counters()})
        os._exit(contract.EXIT_RECYCLE)
    os._exit(contract.EXIT_OK)


def ipc_loop(worker, channel, log):
    """The master's messages (MASTER_MESSAGES), and a heartbeat every heartbeat_s between them; EOF
    means the master is gone. One thread for both: each thread a forked worker starts costs it hundreds
    of copy-on-write page faults (its stack, and the interpreter state it touches) before it serves."""
    beat_s = worker.cfg.heartbeat_s
    next_beat = time.monotonic() + beat_s
    for msg in channel.messages(lambda: next_beat - time.monotonic()):
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + beat_s
            if not worker.stopping.is_set():
                channel.send({'type': 'heartbeat', 'counters': worker.counters()})
        if msg is not None:
            on_master(worker, log, msg)
    if not worker.stopping.is_set():
        log('WARN', 'master went away; exiting')
        worker.stopping.set()


def on_master(worker, log, msg):
    kind = msg.get('type') if isinstance(msg, dict) else None
    if kind == 'stop':
        log('INFO', 'the master asks this worker to stop', reason=msg.get('reason'))
        worker.stopping.set()
    elif kind == 'drain':
        worker.draining = True
        log('INFO', 'draining: the readiness path answers 503 from now on')
    elif kind == 'logging':
        worker.logging = bool(msg.get('enabled'))
        log('INFO', 'request logging %s by the master' % ('enabled' if worker.logging else 'disabled'))
    elif kind == 'reopen-logs':
        pass  # lines go to the stderr the master gave us (its log fd): nothing of ours to reopen
    else:
        log('WARN', 'unknown message from the master; ignored', type=kind)


def watchdog(worker, channel, log):
    """harakiri: a request running too long takes its worker down; the master replaces it."""
    while not worker.stopping.wait(1.0):
        late = worker.overdue()
        if late is None:
            continue
        method, uri, took = late
        log('ERROR', 'harakiri: request took too long; killing this worker', method=method, uri=uri, seconds='%g' % worker.harakiri)
        channel.send({'type': 'exiting', 'reason': 'harakiri', 'counters': worker.counters(),
                      'detail': '%s %s ran %.1f s, longer than harakiri (%g s)' % (method, uri, took, worker.harakiri)})
        grace = worker.cfg.harakiri_graceful_timeout
        if grace:
            # uWSGI's graceful harakiri: the signal first (the app may clean up), no new requests, and
            # the worker's other requests get `grace` seconds; the late one may still end meanwhile.
            log('WARN', 'harakiri: graceful stop first', signal=worker.cfg.harakiri_graceful_signal, seconds=grace)
            worker.stopping.set()
            try:
                os.kill(os.getpid(), worker.cfg.harakiri_graceful_signal)
            except (OSError, ValueError):
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(worker.starts):
                time.sleep(0.05)
        log.flush()
        sys.stderr.flush()
        os._exit(contract.EXIT_HARAKIRI)

