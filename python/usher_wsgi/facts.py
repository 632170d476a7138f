"""facts: the facts of one served request that the compiled access line reads (the Python side of
src/logging/facts.ts), gathered only as far as the line needs them (memory from /proc at most once a
second, the packet size only for %(pktsize)). Must not: compile or render the format (log.py does).
"""
import itertools
import os
import time
from time import monotonic


class AccessFacts:
    def __init__(self, access, log, wid):
        self.access = access
        self.log = log
        self.wid = wid
        self.pid = os.getpid()
        self.req_count = itertools.count(1)
        self.mem = [0.0, 0, 0]  # when read, rss, vsz

    def line(self, env, vars_, res, status, dur_us, length, index, aborted):
        """Fill the request facts (src/logging/facts.ts) and write the compiled line."""
        acc = self.access
        get = env.get
        addr = get('REMOTE_ADDR', '')
        if acc.x_forwarded_for:
            addr = get('HTTP_X_FORWARDED_FOR') or addr
        pktsize = 0
        if acc.needs_pktsize:
            # each var is 2 + len(key) + 2 + len(value) bytes of the packet; map(len) runs in C
            pktsize = sum(map(len, vars_)) + sum(map(len, vars_.values())) + 4 * len(vars_)
        rss = vsz = 0
        if acc.needs_memory:
            rss, vsz = self.memory()
        f = {
            'addr': addr, 'user': _text(get('REMOTE_USER', '')), 'method': get('REQUEST_METHOD', ''),
            'uri': _text(get('REQUEST_URI') or env['PATH_INFO']), 'proto': get('SERVER_PROTOCOL', ''), 'status': status,
            'rsize': res.written, 'hsize': res.hsize, 'headers': res.hcount,
            'cl': length, 'referer': _text(get('HTTP_REFERER', '')), 'uagent': _text(get('HTTP_USER_AGENT', '')),
            'host': _text(get('HTTP_HOST', '')), 'startUs': int(time.time() * 1000000) - dur_us, 'durUs': dur_us,
            'pid': self.pid, 'wid': self.wid, 'core': index, 'switches': 1, 'vars': len(vars_), 'pktsize': pktsize,
            'rss': rss, 'vsz': vsz, 'req': next(self.req_count), 'aborted': aborted, 'env': env,
        }
        self.log.access(acc.tag + acc.render(f))

    def memory(self):
        """(rss, vsz) in bytes, read from /proc at most once a second."""
        m = self.mem
        now = monotonic()
        if now - m[0] >= 1.0:
            try:
                with open('/proc/self/statm') as fh:
                    fields = fh.read().split()
                page = os.sysconf('SC_PAGE_SIZE')
                m[1], m[2] = int(fields[1]) * page, int(fields[0]) * page
            except (OSError, ValueError, IndexError):
                pass
            m[0] = now
        return m[1], m[2]


def _text(s):
    """A var as the client's UTF-8 text (the codec decodes vars as latin-1, byte for byte)."""
    if s.isascii():
        return s
    try:
        return s.encode('latin-1').decode('utf-8', 'replace')
    except UnicodeEncodeError:
        return s


class Sent:
    """What the access line reads of a response, for a static file (its head is the static module's)."""
    __slots__ = ('written', 'hsize', 'hcount')

    def __init__(self, written):
        self.written = written
        self.hsize = 0
        self.hcount = 0
