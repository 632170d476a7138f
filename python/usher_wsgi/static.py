"""usher_wsgi.static: static files served by the Python worker itself (static-map, static-map2,
check-static and friends), the twin of src/static/ in TypeScript. One resolver turns (mappings,
request) into a decision; test/fixtures/static/corpus.json holds both implementations to the same
answers, and the pieces below mirror src/static/{uri,mime,rules,resolve}.ts function by function.

Safe by construction: the path is decoded strictly (no `..`, no encoded slash, no control byte,
strict UTF-8), the candidate is resolved with realpath and must sit in the mapping's real root (or
a `static-safe` folder), it is opened with O_NOFOLLOW and the kernel's own name for the fd
(/proc/self/fd/N) is checked again; sizes come from fstat of that fd. Bodies go out with
os.sendfile from that fd: never read into memory, exactly the promised length or a closed connection.

Must not: import anything outside the standard library, or list a folder.
Used as: h = static.handler(spec['static']); then per request d = h.resolve(method, request_uri,
headers); if d is not None: h.send(sock, d, keep) (see send() for what keep means).
"""
import errno
import os
import select
import stat as _stat
import time

from .static_rules import (  # noqa: F401 (also used by name from here: tests, the resolver)
    ALLOWED_DOT_SEGMENT,
    BUILTIN_MIME,
    accepted_codings,
    compile_expires,
    decode_target,
    expires_headers,
    http_date,
    if_range_holds,
    load_mime_table,
    make_etag,
    mime_type_for,
    mount_segments,
    not_modified,
    parse_range,
    raw_under_mount,
    under_mount,
)


# ------------------------------------------------------------------------------------------ resolve

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_BODIES = {403: 'Forbidden\n', 404: 'Not Found\n', 416: 'Range Not Satisfiable\n'}
_MISSING = ('missing',)


class Decision:
    """kind: 'pass' (the app gets the request), 'respond' (status, headers, small body) or 'file'
    (status 200/206, headers, an open fd the sender must close, start, length, head)."""
    __slots__ = ('kind', 'status', 'reason', 'headers', 'body', 'fd', 'path', 'start', 'length', 'head')

    def __init__(self, kind, status=None, reason=None, headers=None, body=b'', fd=None, path=None, start=0, length=0, head=False):
        self.kind, self.status, self.reason, self.headers, self.body = kind, status, reason, headers or [], body
        self.fd, self.path, self.start, self.length, self.head = fd, path, start, length, head

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _pass(reason):
    return Decision('pass', reason=reason)


def _refusal(status, reason, extra=()):
    body = _BODIES[status].encode()
    return Decision('respond', status, reason, [('Content-Type', 'text/plain; charset=utf-8'), ('Content-Length', str(len(body)))] + list(extra), body)


def _within(p, d):
    if p == d:
        return []
    prefix = d if d.endswith('/') else d + '/'
    return p[len(prefix):].split('/') if p.startswith(prefix) else None


class _Found:
    __slots__ = ('fd', 'path', 'size', 'mtime')

    def __init__(self, fd, path, size, mtime):
        self.fd, self.path, self.size, self.mtime = fd, path, size, mtime


class Resolver:
    """The twin of src/static/resolve.ts StaticResolver: resolve(method, target, headers, now) -> Decision."""

    def __init__(self, spec, mime=None):
        self.spec = spec
        self.mime = mime if mime is not None else load_mime_table(spec['mimefiles'])
        self.mounts = [(m, mount_segments(m['mount'])) for m in spec['maps']]
        self.roots = {}
        self.safe = []
        for p in spec['safe']:
            try:
                self.safe.append(_realpath(p))
            except OSError:
                self.safe.append(p)
        self.expires = compile_expires(spec['expires'])

    def resolve(self, method, target, headers, now=None):
        """headers: lower-case names -> str. now: seconds since the epoch (for Expires)."""
        d = self._resolve(method, target, headers, now)
        d.head = method == 'HEAD'
        return d

    def _resolve(self, method, target, headers, now):
        if method not in ('GET', 'HEAD'):
            return _pass('method')
        ok, got = decode_target(target)
        if not ok:
            if got == 'not-a-path':
                return _pass('not-a-path')
            return _refusal(403, got) if any(raw_under_mount(target, m['mount']) for m, _ in self.mounts) else _pass('no-mapping')
        segments = got
        path = '/' + '/'.join(segments)
        matched = False
        for m, segs in self.mounts:
            if not under_mount(segments, segs):
                continue
            matched = True
            if any(path.endswith(e) for e in self.spec['skipExt']):
                return _pass('skip-ext')
            root = self._root_of(m['root'])
            if root is None:
                continue
            real, is_file = root
            if is_file:
                probe = self._open_safe(real, root, False) if len(segments) == len(segs) else _MISSING
            else:
                rel = segments if m['keepMount'] else segments[len(segs):]
                probe = self._open_safe('/'.join(['' if real == '/' else real] + rel) or '/', root, True)
            if probe[0] == 'missing':
                continue
            if probe[0] == 'refused':
                return _refusal(probe[1], probe[2])
            found = probe[1]
            if any(found.path.endswith(e) for e in self.spec['skipExt']):
                os.close(found.fd)
                return _pass('skip-ext')
            return self._answer(found, root, method, target, headers, now)
        return _pass('missing' if matched else 'no-mapping')

    def _root_of(self, d):
        known = self.roots.get(d)
        if known is not None:
            return known
        try:
            real = _realpath(d)
            root = (real, os.path.isfile(real))
        except OSError:
            return None
        self.roots[d] = root
        return root

    def _allowed(self, real, root):
        root_real, is_file = root
        if is_file:
            return 'ok' if real == root_real else 'symlink-escape'
        rel = _within(real, root_real)
        if rel is None:
            rel = next((r for r in (_within(real, s) for s in self.safe) if r is not None), None)
        if rel is None:
            return 'symlink-escape'
        return 'dotfile' if any(s.startswith('.') and s != ALLOWED_DOT_SEGMENT for s in rel) else 'ok'

    def _open_safe(self, candidate, root, allow_index):
        try:
            real = _realpath(candidate)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                return _MISSING
            return ('refused', 403, 'symlink-loop' if e.errno == errno.ELOOP else 'unreadable')
        verdict = self._allowed(real, root)
        if verdict != 'ok':
            return ('refused', 403, verdict)
        try:
            fd = os.open(real, _OPEN_FLAGS)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return _MISSING
            return ('refused', 403, 'symlink-escape' if e.errno == errno.ELOOP else 'unreadable')
        try:
            # What the kernel says this fd is: a rename or symlink swap after realpath cannot smuggle in another file.
            try:
                opened = os.readlink('/proc/self/fd/%d' % fd)
            except OSError:
                opened = real
            if opened != real and self._allowed(opened, root) != 'ok':
                os.close(fd)
                return ('refused', 403, 'symlink-escape')
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if _stat.S_ISDIR(st.st_mode):
            os.close(fd)
            if not allow_index:
                return _MISSING
            for idx in self.spec['index']:
                p = self._open_safe(('' if opened == '/' else opened) + '/' + idx, root, False)
                if p[0] != 'missing':
                    return p
            return _MISSING  # never a listing: the app gets folder paths without an index
        if not _stat.S_ISREG(st.st_mode):
            os.close(fd)
            return ('refused', 404, 'not-regular')
        return ('file', _Found(fd, opened, st.st_size, st.st_mtime_ns // 1000000000))

    def _variant(self, base, root, accept):
        """(found, coding, vary): a precompressed sibling to serve instead (br before gzip)."""
        if not (self.spec['gzipAll'] or any(base.path.startswith(p) for p in self.spec['gzipDirs'])):
            return None, None, False
        ok = accepted_codings(accept)
        found, coding, vary = None, None, False
        for c, ext in (('br', '.br'), ('gzip', '.gz')):
            p = self._open_safe(base.path + ext, root, False)
            if p[0] != 'file':
                continue
            vary = True
            if found is None and ok[c]:
                found, coding = p[1], c
            else:
                os.close(p[1].fd)
        return found, coding, vary

    def _answer(self, base, root, method, target, headers, now):
        if now is None:
            now = int(time.time())
        ctype = mime_type_for(self.mime[0], base.path)
        found, coding, vary = self._variant(base, root, headers.get('accept-encoding'))
        f = found or base
        if found is not None:
            os.close(base.fd)
        etag = make_etag(f.mtime, f.size, coding)
        common = [('Last-Modified', http_date(f.mtime)), ('ETag', etag)]
        if vary:
            common.append(('Vary', 'Accept-Encoding'))
        common += expires_headers(self.expires, base.path, target, ctype, f.mtime, now)
        if not_modified(headers, etag, f.mtime):
            os.close(f.fd)
            return Decision('respond', 304, 'not-modified', common)
        head = method == 'HEAD'
        rng = ('whole',) if head or not if_range_holds(headers.get('if-range'), etag, f.mtime) else parse_range(headers.get('range'), f.size)
        if rng[0] == 'unsatisfiable':
            os.close(f.fd)
            return _refusal(416, 'range', [('Content-Range', 'bytes */%d' % f.size)])
        start, length = (rng[1], rng[2] - rng[1] + 1) if rng[0] == 'part' else (0, f.size)
        out = [('Content-Type', ctype), ('Content-Length', str(length))]
        if rng[0] == 'part':
            out.append(('Content-Range', 'bytes %d-%d/%d' % (rng[1], rng[2], f.size)))
        if coding is not None:
            out.append(('Content-Encoding', coding))
        out.append(('Accept-Ranges', 'bytes'))
        out += common
        return Decision('file', 206 if rng[0] == 'part' else 200, None, out, fd=f.fd, path=f.path, start=start, length=length, head=head)


def _realpath(p):
    """realpath(3) semantics: every component must exist (os.path.realpath only gained strict= in 3.10)."""
    real = os.path.realpath(p)
    os.stat(real)  # ENOENT / ENOTDIR / ELOOP / EACCES as realpath(3) would report them
    return real


# ------------------------------------------------------------------------------------------ send

STATUS_TEXT = {200: 'OK', 206: 'Partial Content', 304: 'Not Modified', 403: 'Forbidden', 404: 'Not Found', 416: 'Range Not Satisfiable', 500: 'Internal Server Error'}
_SENDFILE_CHUNK = 1 << 20


def _wait_writable(sock, timeout):
    p = select.poll()
    p.register(sock.fileno(), select.POLLOUT)
    if not p.poll(None if timeout is None else int(timeout * 1000)):
        raise TimeoutError('peer did not read for %s s' % timeout)


def send(sock, d, keep=False):
    """Write a 'respond' or 'file' decision as a raw HTTP/1.1 response (what a uwsgi peer relays).
    keep: the peer keeps the connection (every answer here is length-framed); else `Connection: close`.
    The file body goes out with os.sendfile from the decision's fd, which is always closed here.
    Returns (body_bytes_sent, complete); complete False means the connection must be closed (the file
    shrank mid-send, or the peer went away): the promised Content-Length was not met."""
    try:
        lines = ['HTTP/1.1 %d %s\r\n' % (d.status, STATUS_TEXT.get(d.status, ''))]
        lines += ['%s: %s\r\n' % h for h in d.headers]
        lines.append('\r\n' if keep else 'Connection: close\r\n\r\n')
        head = ''.join(lines).encode('latin-1')
        if d.kind != 'file':
            sock.sendall(head if d.head else head + d.body)
            return (0 if d.head else len(d.body)), True
        sock.sendall(head)
        if d.head or d.length == 0:
            return 0, True
        out, offset, todo, sent = sock.fileno(), d.start, d.length, 0
        timeout = sock.gettimeout()
        while todo > 0:
            try:
                n = os.sendfile(out, d.fd, offset, min(todo, _SENDFILE_CHUNK))
            except BlockingIOError:
                _wait_writable(sock, timeout)
                continue
            except InterruptedError:
                continue
            if n == 0:
                return sent, False  # the file is shorter than its fstat said: truncated under us
            offset += n
            todo -= n
            sent += n
        return sent, True
    except OSError:
        return 0, False
    finally:
        d.close()


class Handler:
    """static.handler(spec): the hook for the Python worker. `serve(sock, method, request_uri, headers,
    keep)` answers a static request and returns (status, body_bytes, complete), or None when the request
    is not static (the app gets it, untouched)."""

    def __init__(self, spec, log=None):
        self.resolver = Resolver(spec)
        self.log = log or (lambda level, msg, **fields: None)
        types, sources, unreadable = self.resolver.mime
        for f in unreadable:
            self.log('WARN' if spec['mimefiles'] else 'INFO', 'mimefile unreadable', path=f)
        if not sources:
            self.log('INFO', 'no mimefile readable; using the built-in MIME table', types=len(types))

    def resolve(self, method, target, headers, now=None):
        return self.resolver.resolve(method, target, headers, now)

    def serve(self, sock, method, target, headers, keep=False):
        if method not in ('GET', 'HEAD'):
            return None
        try:
            d = self.resolver.resolve(method, target, headers)
        except (OSError, ValueError) as e:
            # Not a refusal the resolver knows (EMFILE, EIO...): a 500, never a dead worker thread.
            self.log('ERROR', 'static lookup failed', uri=target, error=str(e))
            d = Decision('respond', 500, 'error', [('Content-Type', 'text/plain; charset=utf-8'), ('Content-Length', '22')], b'Internal Server Error\n')
            d.head = method == 'HEAD'
        if d.kind == 'pass':
            return None
        if d.kind == 'respond' and d.status != 304:
            self.log('WARN', 'static request refused', status=d.status, reason=d.reason, uri=target)
        sent, complete = send(sock, d, keep)
        if not complete and d.kind == 'file':
            self.log('WARN', 'static file not sent whole; connection closed', path=d.path, promised=d.length, sent=sent)
        return d.status, sent, complete


def handler(spec, log=None):
    return Handler(spec, log)


def target_from_vars(vars_):
    """The raw request target from uwsgi vars: REQUEST_URI as the front sent it, else PATH_INFO
    (already decoded by the front) percent-encoded again, so it is decoded exactly once here."""
    uri = vars_.get('REQUEST_URI')
    if uri:
        return uri
    from urllib.parse import quote  # here, not at the top: the import costs ~0.25 MiB, and most requests never get here
    return quote(vars_.get('SCRIPT_NAME', '') + vars_.get('PATH_INFO', '/'), safe='/', encoding='latin-1')


def headers_from_environ(environ):
    """The lower-case request headers a resolver reads, from WSGI/uwsgi vars (HTTP_IF_NONE_MATCH -> if-none-match)."""
    return {k[5:].lower().replace('_', '-'): v for k, v in environ.items() if k.startswith('HTTP_')}
