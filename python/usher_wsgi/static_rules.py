"""usher_wsgi.static_rules: the pure HTTP rules of static files, the twin of src/static/{uri,mime,rules}.ts
function by function: strict decoding of a request target, mountpoint matching, the MIME table (Debian's
/etc/mime.types or the built-in one), HTTP dates, ETags, conditional requests, Range and If-Range,
Accept-Encoding and the static-expires rules. static.py builds the resolver and the sender on them.
Must not: touch a file other than a mime.types, or import anything outside the standard library.
"""
import os
import re
import time

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
    return _days_since_epoch(y, _MONTHS.index(mon) + 1, d) * 86400 + h * 3600 + mi * 60 + s


def _days_since_epoch(y, m, d):
    """calendar.timegm's day count (proleptic Gregorian, out-of-range days carried over as it does),
    without importing calendar: that module (and datetime, locale under it) costs a worker ~0.6 MiB."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


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
