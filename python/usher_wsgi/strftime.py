"""strftime: the time strings of access lines, the Python twin of src/logging/strftime.ts: strftime
conversions rendered as glibc renders them (C locale), uWSGI's %(ctime) and %(ltime), and a cache of
one string per second. Must not: depend on the process locale (lines are the same everywhere).
"""
import time


_DAYS = ('Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat')
_DAYS_LONG = ('Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday')
_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_MONTHS_LONG = ('January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
                'October', 'November', 'December')


def _wd(t):
    return (t.tm_wday + 1) % 7  # struct_time: Monday = 0; C: Sunday = 0


def tz(t):
    off = (t.tm_gmtoff or 0) // 60
    a = abs(off)
    return '%s%02d%02d' % ('-' if off < 0 else '+', a // 60, a % 60)


_CONVERSIONS = {
    'a': lambda t: _DAYS[_wd(t)], 'A': lambda t: _DAYS_LONG[_wd(t)],
    'b': lambda t: _MONTHS[t.tm_mon - 1], 'h': lambda t: _MONTHS[t.tm_mon - 1], 'B': lambda t: _MONTHS_LONG[t.tm_mon - 1],
    'd': lambda t: '%02d' % t.tm_mday, 'e': lambda t: '%2d' % t.tm_mday, 'H': lambda t: '%02d' % t.tm_hour,
    'I': lambda t: '%02d' % (t.tm_hour % 12 or 12), 'j': lambda t: '%03d' % t.tm_yday, 'm': lambda t: '%02d' % t.tm_mon,
    'M': lambda t: '%02d' % t.tm_min, 'p': lambda t: 'AM' if t.tm_hour < 12 else 'PM', 'S': lambda t: '%02d' % t.tm_sec,
    'y': lambda t: '%02d' % (t.tm_year % 100), 'Y': lambda t: str(t.tm_year), 'z': tz,
    's': lambda t: str(int(time.mktime(t))), 'u': lambda t: str(_wd(t) or 7), 'w': lambda t: str(_wd(t)),
    'F': lambda t: '%d-%02d-%02d' % (t.tm_year, t.tm_mon, t.tm_mday),
    'T': lambda t: '%02d:%02d:%02d' % (t.tm_hour, t.tm_min, t.tm_sec), 'R': lambda t: '%02d:%02d' % (t.tm_hour, t.tm_min),
    'D': lambda t: '%02d/%02d/%02d' % (t.tm_mon, t.tm_mday, t.tm_year % 100),
    'c': lambda t: '%s %s %2d %02d:%02d:%02d %d' % (_DAYS[_wd(t)], _MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year),
    'n': lambda t: '\n', 't': lambda t: '\t',
}


def compile_strftime(fmt):
    """(render(struct_time) -> str, unknown conversions kept as written)."""
    parts, unknown, lit, i = [], [], '', 0
    while i < len(fmt):
        c = fmt[i]
        if c != '%' or i + 1 >= len(fmt):
            lit += c
            i += 1
            continue
        k = fmt[i + 1]
        i += 2
        if k == '%':
            lit += '%'
        elif k in _CONVERSIONS:
            if lit:
                parts.append(lit)
                lit = ''
            parts.append(_CONVERSIONS[k])
        else:
            unknown.append('%' + k)
            lit += '%' + k
    if lit:
        parts.append(lit)

    def render(t):
        return ''.join(p if type(p) is str else p(t) for p in parts)
    return render, unknown


def ctime(t):
    return '%s %s %2d %02d:%02d:%02d %d' % (_DAYS[_wd(t)], _MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year)


def ltime(t):
    return '%02d/%s/%d:%02d:%02d:%02d %s' % (t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec, tz(t))


def per_second(fn):
    """A time string per second of request start, computed once a second (threads may race: harmless)."""
    cache = [-1, '']

    def get(f):
        s = f['startUs'] // 1000000
        if s != cache[0]:
            cache[1] = fn(time.localtime(s))
            cache[0] = s
        return cache[1]
    return get
