"""channel: Node's IPC channel to the master (NODE_CHANNEL_FD), one JSON message per line each way.
Must not: carry request data (requests go over sockets), or act on messages (main/server do).
"""
import json
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

    def messages(self):
        """The master's messages until EOF (the master is gone)."""
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
