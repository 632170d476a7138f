"""handoff: what an early fork-server waits for before it loads the app. The master starts it as soon as
it has read the config (src/master/spawn.ts spawnEarlyForkServer), so Python's start and the runner's
imports overlap the master's own; then it hands over what the usual start passes at spawn:
  the bound sockets  one message each over the channel (fd 3): Node sends a handle as
                     {"cmd":"NODE_HANDLE","type":"net.Native","msg":{"type":"socket","index":I}} with the
                     fd attached (SCM_RIGHTS), and holds every later message until this side answers
                     {"cmd":"NODE_HANDLE_ACK"}; socket I goes to the spec's fds[I], as spawn would put it;
  then {"type":"setup","env":{...},"logFd":N|null}  the environment a fork-server is spawned with (the
                     spec, the control socket, the titles), and the master's fd of the children's log
                     pipe, opened here through /proc/MASTER/fd/N as stdout and stderr (null: the
                     master's own, already inherited).
EOF before the setup: the master failed to start (and said why); this process leaves without a word.
Must not: load the app, or read past the setup line (what follows is the fork-server's).
"""
import array
import fcntl
import json
import os
import socket

EARLY_ENV = 'USHER_FORKSERVER_EARLY'
_ACK = b'{"cmd":"NODE_HANDLE_ACK"}\n'
_MAX_FDS = 64


def receive(channel):
    """Wait for the master's sockets and setup and apply them; returns the bytes read past the setup line."""
    sockets = {}
    got = []
    buf = b''
    while True:
        try:
            data, anc, flags, _ = channel.sock.recvmsg(65536, socket.CMSG_SPACE(_MAX_FDS * 4))
        except InterruptedError:
            continue
        except OSError:
            data, anc, flags = b'', [], 0
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array('i')
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
                got.extend(fds)
        if flags & socket.MSG_CTRUNC:
            raise ValueError('more sockets at once than %d' % _MAX_FDS)
        if not data:
            os._exit(0)
        buf += data
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            msg = json.loads(line)
            if not isinstance(msg, dict):
                continue
            if msg.get('cmd') == 'NODE_HANDLE':
                sockets[int(msg['msg']['index'])] = got.pop(0)
                channel.sock.sendall(_ACK)
            elif msg.get('type') == 'setup':
                _apply(msg, sockets)
                return buf


def _apply(setup, sockets):
    os.environ.pop(EARLY_ENV, None)
    os.environ.update(setup['env'])
    targets = json.loads(os.environ['USHER_WORKER'])['fds']
    # Each to its place; first out of the way, so that no received fd sits where another one goes.
    high = {i: fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for i, fd in sockets.items()}
    for fd in sockets.values():
        os.close(fd)
    for i, fd in high.items():
        os.dup2(fd, targets[i])
        os.close(fd)
    if setup.get('logFd') is not None:
        # The master's write end, non-blocking as the children's is (a full pipe must not stall a worker).
        log = os.open('/proc/%d/fd/%d' % (os.getppid(), setup['logFd']), os.O_WRONLY | os.O_NONBLOCK)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
