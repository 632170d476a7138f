"""The Python sender on a real socket pair: python/usher_wsgi/static.py resolves and sends with
os.sendfile to one end, this script reads the other end as a client would. Prints JSON results for
test/static/serve-python.test.ts. usage: py_serve_check.py REPO TMPDIR SCENARIO
"""
import importlib.util
import json
import os
import socket
import sys
import threading
import time

repo, tmp, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
spec_ = importlib.util.spec_from_file_location('usher_static', os.path.join(repo, 'python', 'usher_wsgi', 'static.py'))
static = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(static)

SPEC = {'maps': [{'mount': '/static', 'root': os.path.join(tmp, 'root'), 'keepMount': False}], 'index': ['index.html'], 'skipExt': [],
        'safe': [], 'gzipAll': False, 'gzipDirs': [], 'mimefiles': [], 'expires': []}
logs = []
h = static.handler(SPEC, lambda level, msg, **f: logs.append([level, msg, f]))


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])


def read_response(sock, cap=None, slow=False):
    """Head (parsed) and body bytes count (+ the first 64 KiB and a sample of the body) until EOF."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    headers = dict(l.split(': ', 1) for l in lines[1:])
    body = bytearray(rest[:65536])
    total = len(rest)
    mem = memoryview(bytearray(65536))
    peak = rss_kib()
    while cap is None or total < cap:
        n = sock.recv_into(mem)
        if n == 0:
            break
        if len(body) < 65536:
            body += mem[:min(n, 65536 - len(body))]
        total += n
        if slow and total % (1 << 24) < n:  # every 16 MiB: let the sender block on a full socket buffer
            time.sleep(0.05)
            peak = max(peak, rss_kib())
    return lines[0], headers, total, bytes(body), peak


def serve_in_thread(sock, method, target, headers, keep=False):
    out = {}

    def run():
        out['result'] = h.serve(sock, method, target, headers, keep)
        sock.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=run)
    t.start()
    return t, out


def one(method, target, headers=None, before=None):
    a, b = socket.socketpair()
    try:
        if before:
            before()
        t, out = serve_in_thread(a, method, target, headers or {})
        status, hdrs, total, body, _ = read_response(b)
        t.join()
        return {'status': status, 'headers': hdrs, 'total': total, 'body': body.decode('latin-1'), 'result': out.get('result')}
    finally:
        a.close()
        b.close()


def keep_alive():
    """Two static answers on one kept connection, from uwsgi vars as the worker holds them."""
    a, b = socket.socketpair()
    try:
        out = []
        for vars_ in ({'REQUEST_URI': '/static/a.txt', 'HTTP_RANGE': 'bytes=0-4'}, {'REQUEST_URI': '/static/a.txt?v=2'}):
            r = h.serve(a, 'GET', static.target_from_vars(vars_), static.headers_from_environ(vars_), keep=True)
            head = b''
            while b'\r\n\r\n' not in head:
                head += b.recv(1)
            length = int([l for l in head.decode('latin-1').split('\r\n') if l.startswith('Content-Length: ')][0].split(': ')[1])
            body = b''
            while len(body) < length:
                body += b.recv(length - len(body))
            out.append({'head': head.decode('latin-1'), 'body': body.decode('latin-1'), 'result': r})
        return out
    finally:
        a.close()
        b.close()


if scenario == 'basic':
    res = {
        'get': one('GET', '/static/a.txt'),
        'range': one('GET', '/static/a.txt', {'range': 'bytes=7-11'}),
        'head': one('HEAD', '/static/a.txt'),
        'notmod': one('GET', '/static/a.txt', {'if-none-match': '"5f5e1000-e"'}),
        'refused': one('GET', '/static/../outside/canary.txt'),
        'post': h.serve(None, 'POST', '/static/a.txt', {}),
        'missing': h.serve(None, 'GET', '/static/nope', {}),
        'keep': keep_alive(),
        'targets': [static.target_from_vars({'REQUEST_URI': '/static/a%20b?x=1', 'PATH_INFO': '/static/a b'}),
                    static.target_from_vars({'PATH_INFO': '/static/caf\u00c3\u00a9 %.txt'})],
        'fds': len(os.listdir('/proc/self/fd')),
    }
    print(json.dumps(res))
elif scenario == 'big':
    # 1 GiB sparse file to a client that reads in pauses; the server's RSS must not follow the file size.
    path = os.path.join(tmp, 'root', 'big.bin')
    with open(path, 'wb') as f:
        f.truncate(1 << 30)
    a, b = socket.socketpair()
    a.settimeout(60)  # as the worker's sockets: non-blocking underneath, so sendfile meets EAGAIN
    before = rss_kib()
    t, out = serve_in_thread(a, 'GET', '/static/big.bin', {})
    status, hdrs, total, _, peak = read_response(b, slow=True)
    t.join()
    a.close()
    b.close()
    print(json.dumps({'status': status, 'length': hdrs.get('Content-Length'), 'total': total, 'rssBeforeKiB': before,
                      'rssPeakKiB': max(peak, rss_kib()), 'result': out.get('result')}))
elif scenario == 'shrink':
    # The file is truncated while being sent: the sender must stop short and say so (connection to close).
    path = os.path.join(tmp, 'root', 'shrink.bin')
    with open(path, 'wb') as f:
        f.truncate(64 << 20)
    a, b = socket.socketpair()
    a.settimeout(60)
    t, out = serve_in_thread(a, 'GET', '/static/shrink.bin', {})
    first = b.recv(65536)  # the head is out: the fd is open and the size promised
    os.truncate(path, 1 << 20)
    head, _, rest = first.partition(b'\r\n\r\n')
    total = len(rest)
    while True:
        chunk = b.recv(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    t.join()
    a.close()
    b.close()
    print(json.dumps({'head': head.decode('latin-1'), 'total': total, 'result': out.get('result'), 'logs': logs}))
elif scenario == 'replace':
    # The file is replaced (rename over it) mid-send: the open fd still holds the old file, sent whole.
    path = os.path.join(tmp, 'root', 'swap.bin')
    with open(path, 'wb') as f:
        f.write(b'A' * (8 << 20))
    a, b = socket.socketpair()
    a.settimeout(60)
    t, out = serve_in_thread(a, 'GET', '/static/swap.bin', {})
    first = b.recv(65536)
    with open(path + '.new', 'wb') as f:
        f.write(b'B' * 100)
    os.rename(path + '.new', path)
    head, _, rest = first.partition(b'\r\n\r\n')
    data = bytearray(rest)
    while True:
        chunk = b.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    t.join()
    a.close()
    b.close()
    print(json.dumps({'head': head.decode('latin-1'), 'total': len(data), 'allA': data == b'A' * (8 << 20), 'result': out.get('result')}))
