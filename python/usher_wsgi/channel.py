"""channel: Node's IPC channel to the master (NODE_CHANNEL_FD), one JSON message per line each way.
Must not: carry request data (requests go over sockets), or act on messages (main/server do).
"""
import json
import select
import socket
import threading


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

    def messages(self, wait_s=None):
        """The master's messages until EOF (the master is gone). With `wait_s` (a function giving the
        seconds left until the caller's next deadline), None is yielded whenever that deadline passes
        with nothing to read, so one thread can both listen and act on a timer."""
        if self.sock is None:
            return
        poller = None
        if wait_s is not None:
            poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN)
        buf = b''
        while True:
            if poller is not None:
                left = wait_s()
                try:
                    ready = left > 0 and poller.poll(left * 1000)
                except InterruptedError:
                    continue
                if not ready:
                    yield None
                    continue
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
