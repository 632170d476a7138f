"""access_log: access lines, the Python twin of src/logging/format.ts. The format is compiled once per
process into a list of chunks; a request only walks the list. Both renderers are held to the same
fixture corpus (test/fixtures/logging/), so a line is the same from either runtime.
Must not: write anything (server.py hands the line to log.Log.raw), or read the clock.
"""
import json
import re
import time

from .strftime import compile_strftime, ctime, ltime, per_second


_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _hex(m):
    n = ord(m.group())
    return '\\u%04x' % n if n > 0xff else '\\x%02x' % n


def escape_line(s):
    """One line per request, whatever it carried: control characters become \\xHH."""
    return _UNSAFE.sub(_hex, s) if _UNSAFE.search(s) else s


_JSON_EXTRA = re.compile('[\x7f-\x9f\u2028\u2029]')


def json_string(s):
    j = json.dumps(s, ensure_ascii=False)
    return _JSON_EXTRA.sub(lambda m: '\\u%04x' % ord(m.group()), j)


def _dash(s):
    return s if s else '-'


def _variables(ftime):
    def text(key):
        return (lambda f: f[key] or '-'), False

    def num(fn):
        return fn, True
    v = {k: text(k) for k in ('addr', 'user', 'method', 'uri', 'proto', 'referer', 'uagent', 'host')}
    v.update({
        'status': num(lambda f: f['status']), 'rsize': num(lambda f: f['rsize']), 'hsize': num(lambda f: f['hsize']),
        'size': num(lambda f: f['rsize'] + f['hsize']), 'cl': num(lambda f: f['cl']), 'headers': num(lambda f: f['headers']),
        'msecs': num(lambda f: f['durUs'] // 1000), 'micros': num(lambda f: f['durUs']),
        'secs': ((lambda f: '%.6f' % (f['durUs'] / 1e6)), False),
        'time': num(lambda f: f['startUs'] // 1000000), 'epoch': num(lambda f: (f['startUs'] + f['durUs']) // 1000000),
        'tmsecs': num(lambda f: f['startUs'] // 1000), 'tmicros': num(lambda f: f['startUs']),
        'ltime': (per_second(ltime), False), 'ctime': (per_second(ctime), False), 'ftime': (ftime, False),
        'pid': num(lambda f: f['pid']), 'wid': num(lambda f: f['wid']), 'core': num(lambda f: f['core']),
        'switches': num(lambda f: f['switches']), 'vars': num(lambda f: f['vars']), 'pktsize': num(lambda f: f['pktsize']),
        'rss': num(lambda f: f['rss']), 'vsz': num(lambda f: f['vsz']),
        'rssM': num(lambda f: f['rss'] // 1048576), 'vszM': num(lambda f: f['vsz'] // 1048576),
        'modifier1': num(lambda f: 0), 'modifier2': num(lambda f: 0), 'werr': num(lambda f: 0), 'rerr': num(lambda f: 0),
        'ioerr': num(lambda f: 0),
    })
    return v


DEFAULT_JSON_VARS = ('time', 'pid', 'wid', 'core', 'addr', 'user', 'method', 'uri', 'proto', 'status',
                     'rsize', 'hsize', 'headers', 'msecs', 'vars', 'pktsize', 'host', 'referer', 'uagent')
_VAR = re.compile(r'%\(([^)]+)\)')


def parse_format(fmt):
    """[(literal, None) | (None, name)] as uWSGI splits a log-format."""
    out, last = [], 0
    for m in _VAR.finditer(fmt):
        if m.start() > last:
            out.append((fmt[last:m.start()], None))
        out.append((None, m.group(1)))
        last = m.end()
    if last < len(fmt):
        out.append((fmt[last:], None))
    return out


def _var_getter(cgi):
    def get(f):
        env = f['env']
        v = env.get(cgi) if env is not None else None
        return v or '-'
    return get


def _compile_chunks(fmt, variables, warnings):
    chunks = []  # (literal, getter, key, numeric)
    for lit, name in parse_format(fmt):
        if lit is not None:
            chunks.append((lit, None, '', False))
        elif name in variables:
            get, numeric = variables[name]
            chunks.append((None, get, name, numeric))
        elif name.startswith('var.') and len(name) > 4:
            chunks.append((None, _var_getter(name[4:]), name, False))
        else:
            warnings.append('log-format: unknown variable %%(%s); it renders as "-"' % name)
            chunks.append((None, lambda f: '-', name, False))
    return chunks


def _uwsgi_line(micros, memory=False):
    when = per_second(ctime)
    unit = 'micros' if micros else 'msecs'

    def line(f):
        rt = f['durUs'] if micros else f['durUs'] // 1000
        return ('[pid: %d|app: 0|req: %d/%d] %s (%s) {%d vars in %d bytes} [%s] %s %s => generated %d bytes in %d %s (%s %d) '
                '%d headers in %d bytes (%d switches on core %d)') % (
            f['pid'], f['req'], f['req'], f['addr'], f['user'], f['vars'], f['pktsize'], when(f), f['method'], f['uri'],
            f['rsize'], rt, unit, f['proto'], f['status'], f['headers'], f['hsize'], f['switches'], f['core'])
    if not memory:
        return line

    def with_memory(f):
        # uWSGI's memory-report: the worker's address space and RSS after the request
        return '%s {address space usage: %d bytes/%dMB} {rss usage: %d bytes/%dMB}' % (
            line(f), f['vsz'], f['vsz'] // 1048576, f['rss'], f['rss'] // 1048576)
    return with_memory


def _field(s):
    return json_string(s) if s == '' or _FIELD_QUOTE.search(s) else s


_FIELD_QUOTE = re.compile(r'[\s"=]')


def _usher_line(proc):
    def line(f):
        tenths = (f['durUs'] + 50) // 100
        end_ms = (f['startUs'] + f['durUs']) // 1000
        iso = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(end_ms // 1000)) + '.%03dZ' % (end_ms % 1000)
        return '%s INFO  %s: %s %s %d bytes=%d ms=%d.%d addr=%s%s' % (
            iso, proc, f['method'], f['uri'], f['status'], f['rsize'], tenths // 10, tenths % 10, _field(f['addr']),
            ' aborted=true' if f['aborted'] else '')
    return line


def _compile_template(tpl, warnings):
    parts, last = [], 0

    def now(f):
        return f['startUs'] + f['durUs']
    for m in re.finditer(r'\$\{([^}]+)\}', tpl):
        if m.start() > last:
            parts.append(tpl[last:m.start()])
        name = m.group(1)
        if name in ('msg', 'msgnl'):
            nl = '\\n' if name == 'msgnl' else ''
            parts.append(lambda line, f, nl=nl: json_string(line)[1:-1] + nl)
        elif name == 'unix':
            parts.append(lambda line, f: str(now(f) // 1000000))
        elif name == 'micros':
            parts.append(lambda line, f: str(now(f)))
        elif name == 'millis':
            parts.append(lambda line, f: str(now(f) // 1000))
        elif name.startswith('strftime:'):
            st, unknown = compile_strftime(name[9:])
            for u in unknown:
                warnings.append('log-encoder: strftime conversion %s is not rendered by usher; kept as written' % u)
            parts.append(lambda line, f, st=st: json_string(st(time.localtime(now(f) // 1000000)))[1:-1])
        else:
            warnings.append('log-encoder: unknown variable ${%s}; it renders empty' % name)
        last = m.end()
    if last < len(tpl):
        parts.append(tpl[last:])
    return lambda line, f: ''.join(p if type(p) is str else p(line, f) for p in parts)


class AccessLog:
    """Compiled from the spec's `accessLog` (see src/logging/spec.ts) once per process."""

    def __init__(self, spec, proc):
        self.warnings = warnings = []
        strf = None
        if spec.get('strftime') is not None:
            strf, unknown = compile_strftime(spec['strftime'])
            for u in unknown:
                warnings.append('log-date: strftime conversion %s is not rendered by usher; kept as written' % u)
        variables = _variables(per_second(strf or ltime))
        encoder = spec.get('encoder')
        is_json = encoder is not None and re.match(r'json\b', encoder) is not None
        template = encoder[4:].strip() if is_json else ''
        self.needs_memory = False
        self.needs_pktsize = True
        fmt = spec.get('format')
        if fmt is not None or (is_json and not template):
            if fmt is None:
                fmt = ' '.join('%%(%s)' % v for v in DEFAULT_JSON_VARS)
            chunks = _compile_chunks(fmt, variables, warnings)
            self.needs_memory = any(c[2] in ('rss', 'vsz', 'rssM', 'vszM') for c in chunks)
            self.needs_pktsize = any(c[2] == 'pktsize' for c in chunks)
            if is_json and not template:
                seen, keyed = set(), []
                for c in chunks:
                    if c[1] is not None and c[2] not in seen:
                        seen.add(c[2])
                        keyed.append((('{' if not keyed else ',') + json_string(c[2]) + ':', c[1], c[3]))

                def text(f):
                    return ''.join(head + (str(get(f)) if numeric else json_string(str(get(f)))) for head, get, numeric in keyed) + '}'
            else:
                def text(f):
                    return ''.join(lit if lit is not None else str(get(f)) for lit, get, _k, _n in chunks)
        elif spec.get('style') == 'usher':
            text = _usher_line(proc)
        else:
            text = _uwsgi_line(spec.get('micros', False), spec.get('memoryReport', False))
            self.needs_memory = bool(spec.get('memoryReport', False)) and spec.get('style') != 'usher'
        if is_json and not template:
            self.render = lambda f: text(f) + '\n'
        elif is_json:
            tpl = _compile_template(template, warnings)
            self.render = lambda f: tpl(escape_line(text(f)), f) + '\n'
        else:
            self.render = lambda f: escape_line(text(f)) + '\n'
        self.enabled = bool(spec.get('enabled', True))
        self.log4xx = bool(spec.get('log4xx'))
        self.log5xx = bool(spec.get('log5xx'))
        self.slow_us = int(spec.get('slowMs') or 0) * 1000
        self.big = int(spec.get('bigBytes') or 0)
        self.zero = bool(spec.get('zero'))
        self.x_forwarded_for = bool(spec.get('xForwardedFor'))
        self.tag = spec.get('tag') or ''
        self.selective = self.log4xx or self.log5xx or self.slow_us > 0 or self.big > 0 or self.zero
        self.active = self.enabled or self.selective

    def wants(self, status, dur_us, rsize):
        return self.enabled or self.selected(status, dur_us, rsize)

    def selected(self, status, dur_us, rsize):
        """log-4xx, log-5xx, log-slow, log-big, log-zero: lines that log even with disable-logging."""
        return ((self.zero and rsize == 0) or (self.slow_us > 0 and dur_us >= self.slow_us)
                or (self.log4xx and 400 <= status <= 499) or (self.log5xx and 500 <= status <= 599)
                or (self.big > 0 and rsize >= self.big))
