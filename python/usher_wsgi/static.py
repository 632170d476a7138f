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
import calendar
import errno
import os
import re
import select
import stat as _stat
import time
from urllib.parse import quote

# ------------------------------------------------------------------------------------------ uri

ALLOWED_DOT_SEGMENT = '.well-known'
_HEX = '0123456789abcdefABCDEF'


def decode_target(target):
    """(True, segments) or (False, reason); `target` is the raw request target, one char a byte."""
    raw = target.split('?', 1)[0]
    if not raw.startswith('/'):
        return False, 'not-a-path'
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = ord(raw[i])
        if c > 0xff:
            return False, 'bad-char'
        if c == 0x25:
            if i + 2 >= n or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                return False, 'bad-encoding'
            c = int(raw[i + 1:i + 3], 16)
            i += 2
            if c in (0x2f, 0x5c):
                return False, 'encoded-slash'
        if c < 0x20 or c == 0x7f or c == 0x5c:
            return False, 'bad-char'
        out.append(c)
        i += 1
    try:
        text = bytes(out).decode('utf-8')
    except UnicodeDecodeError:
        return False, 'bad-utf8'
    segments = [s for s in text.split('/') if s != '']
    if any(s in ('.', '..') for s in segments):
        return False, 'traversal'
    if any(s.startswith('.') and s != ALLOWED_DOT_SEGMENT for s in segments):
        return False, 'dotfile'
    return True, segments


def mount_segments(mount):
    return [s for s in mount.split('/') if s != '']


def under_mount(segments, mount):
    return len(segments) >= len(mount) and segments[:len(mount)] == mount


def raw_under_mount(target, mount):
    m = mount[:-1] if mount.endswith('/') else mount
    if m == '':
        return True
    return target == m or any(target.startswith(m + c) for c in '/?%')

# ------------------------------------------------------------------------------------------ mime

DEFAULT_MIMEFILE = '/etc/mime.types'
UNKNOWN_TYPE = 'application/octet-stream'
BUILTIN_MIME = {
    'html': 'text/html', 'htm': 'text/html', 'css': 'text/css', 'js': 'text/javascript', 'mjs': 'text/javascript',
    'json': 'application/json', 'map': 'application/json', 'xml': 'application/xml', 'txt': 'text/plain', 'csv': 'text/csv',
    'md': 'text/markdown', 'svg': 'image/svg+xml', 'png': 'image/png', 'jpg': 'image/jpeg', 'jpeg': 'image/jpeg',
    'gif': 'image/gif', 'webp': 'image/webp', 'avif': 'image/avif', 'ico': 'image/vnd.microsoft.icon', 'bmp': 'image/bmp',
    'woff': 'font/woff', 'woff2': 'font/woff2', 'ttf': 'font/ttf', 'otf': 'font/otf', 'eot': 'application/vnd.ms-fontobject',
    'pdf': 'application/pdf', 'zip': 'application/zip', 'gz': 'application/gzip', 'br': 'application/x-brotli',
    'tar': 'application/x-tar', 'wasm': 'application/wasm', 'mp4': 'video/mp4', 'webm': 'video/webm', 'ogg': 'audio/ogg',
    'mp3': 'audio/mpeg', 'wav': 'audio/wav', 'webmanifest': 'application/manifest+json',
}
_EXT = re.compile(r'\.([A-Za-z0-9]+)\Z')


def parse_mime_types(text, into):
    for line in text.split('\n'):
        fields = [f for f in re.split(r'[ \t\r]+', line.split('#', 1)[0]) if f]
        if len(fields) < 2:
            continue
        for ext in fields[1:]:
            into.setdefault(ext.lower(), fields[0])


def load_mime_table(files):
    """(types, sources, unreadable): the mimefiles in order (default /etc/mime.types), else the built-in table."""
    types, sources, unreadable = {}, [], []
    for f in (files or [DEFAULT_MIMEFILE]):
        try:
            with open(f, encoding='latin-1') as fh:
                text = fh.read()
        except OSError:
            unreadable.append(f)
            continue
        parse_mime_types(text, types)
        sources.append(f)
    if not sources:
        types.update(BUILTIN_MIME)
    return types, sources, unreadable


def mime_type_for(types, name):
    m = _EXT.search(name)
    return types.get(m.group(1).lower(), UNKNOWN_TYPE) if m else UNKNOWN_TYPE

# ------------------------------------------------------------------------------------------ rules

_DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']  # time.gmtime's tm_wday order
_LONG_DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
_MON = '|'.join(_MONTHS)
_IMF = re.compile(r'(?:%s), ([0-9]{2}) (%s) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT\Z' % ('|'.join(_DAYS), _MON))
_RFC850 = re.compile(r'(?:%s), ([0-9]{2})-(%s)-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT\Z' % ('|'.join(_LONG_DAYS), _MON))
_ASCTIME = re.compile(r'(?:%s) (%s) ([ 0-9][0-9]) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([0-9]{4})\Z' % ('|'.join(_DAYS), _MON))
_RANGE = re.compile(r'bytes=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*\Z', re.I)
_QVALUE = re.compile(r'(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z')


def http_date(seconds):
    t = time.gmtime(seconds)
    return '%s, %02d %s %04d %02d:%02d:%02d GMT' % (_DAYS[t.tm_wday], t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def _utc(y, mon, d, h, mi, s):
    if y < 1970 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60:
        return None
    return calendar.timegm((y, _MONTHS.index(mon) + 1, d, h, mi, s, 0, 0, 0))


def parse_http_date(v):
    m = _IMF.match(v)
    if m:
        return _utc(int(m.group(3)), m.group(2), int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6)))
    m = _RFC850.match(v)
    if m:
        yy = int(m.group(3))
        return _utc(2000 + yy if yy < 70 else 1900 + yy, m.group(2), int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6)))
    m = _ASCTIME.match(v)
    if m:
        return _utc(int(m.group(6)), m.group(1), int(m.group(2).strip()), int(m.group(3)), int(m.group(4)), int(m.group(5)))
    return None


def make_etag(mtime, size, coding):
    return '"%x-%x%s"' % (mtime, size, '-' + coding if coding else '')


def accepted_codings(header):
    out = {'br': False, 'gzip': False}
    for part in (header or '').split(','):
        params = [p.strip().lower() for p in part.split(';')]
        name = params[0]
        q = next((p for p in params[1:] if p.startswith('q=')), None)
        if q is not None and not (_QVALUE.match(q[2:]) and float(q[2:]) > 0):
            continue
        if name == 'br':
            out['br'] = True
        elif name in ('gzip', 'x-gzip'):
            out['gzip'] = True
    return out


def _weak(tag):
    return tag[2:] if tag.startswith('W/') else tag


def not_modified(headers, etag, mtime):
    inm = headers.get('if-none-match')
    if inm is not None:
        if inm.strip() == '*':
            return True
        return any(_weak(t.strip()) == _weak(etag) for t in inm.split(','))
    ims = headers.get('if-modified-since')
    if ims is None:
        return False
    when = parse_http_date(ims.strip())
    return when is not None and mtime <= when


def parse_range(header, size):
    """('whole',) | ('unsatisfiable',) | ('part', start, end); multi-range -> whole (RFC 9110 allows it)."""
    if header is None or size == 0:
        return ('whole',)
    m = _RANGE.match(header.strip())
    if not m or (m.group(1) == '' and m.group(2) == ''):
        return ('whole',)
    if m.group(1) == '':
        n = int(m.group(2))
        if n == 0:
            return ('unsatisfiable',)
        return ('part', max(0, size - n), size - 1)
    start = int(m.group(1))
    end = size - 1 if m.group(2) == '' else int(m.group(2))
    if m.group(2) != '' and end < start:
        return ('whole',)
    if start >= size:
        return ('unsatisfiable',)
    return ('part', start, min(end, size - 1))


def if_range_holds(header, etag, mtime):
    if header is None:
        return True
    v = header.strip()
    if v.startswith('"') or v.startswith('W/'):
        return v == etag
    when = parse_http_date(v)
    return when is not None and when == mtime


def compile_expires(rules):
    return [dict(r, re=None if r['on'] == 'type' else re.compile(r['match'])) for r in rules]


def expires_headers(rules, path, target, ctype, mtime, now):
    for r in rules:
        hit = r['match'] == ctype if r['on'] == 'type' else r['re'].search(path if r['on'] == 'file' else target) is not None
        if not hit:
            continue
        at = (mtime if r['fromMtime'] else now) + r['seconds']
        return [('Cache-Control', 'max-age=%d' % max(0, at - now)), ('Expires', http_date(at))]
    return []

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
    return quote(vars_.get('SCRIPT_NAME', '') + vars_.get('PATH_INFO', '/'), safe='/', encoding='latin-1')


def headers_from_environ(environ):
    """The lower-case request headers a resolver reads, from WSGI/uwsgi vars (HTTP_IF_NONE_MATCH -> if-none-match)."""
    return {k[5:].lower().replace('_', '-'): v for k, v in environ.items() if k.startswith('HTTP_')}
