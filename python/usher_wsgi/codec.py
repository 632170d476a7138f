"""codec: one uwsgi request head off a connection: the 4-byte header and the vars block, into a dict of
str (latin-1, one char per byte, as PEP 3333 wants). Must not: look at what the vars mean (wsgi and
server do), write to the connection, or log (errors are raised for the server to answer).
"""
import socket
import struct
from socket import MSG_DONTWAIT, SO_RCVTIMEO, SOL_SOCKET

MAX_VARS = 256
# modifier2 = 1 from usher's router: frame the response and keep the connection (src/router/upstream.ts)
KEEPALIVE_MODIFIER2 = 1
# The modifier1 values usher serves: 0 (WSGI: what Nginx and Apache send) and 30 (WSGI, SCRIPT_NAME
# stripped from PATH_INFO). uWSGI hands 5 (PSGI), 6 (Lua), 7 (Rack), 8 (JVM), 9 (CGI), 14 (PHP), 15 (Mono)
# to those languages' plugins and refuses them when none is loaded: so does usher (400), as it refuses
# ping (100), eval (22) and every other non-request.
REQUEST_MODIFIERS = frozenset((0, 30))
# uWSGI's UWSGI_MODIFIER_MANAGE_PATH_INFO (Nginx `uwsgi_modifier1 30`): PATH_INFO starts with SCRIPT_NAME.
MANAGE_PATH_INFO = 30

_unpack_head = struct.Struct('<BHB').unpack_from


class ProtocolError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status


class IdleClose(Exception):
    """The peer closed a kept connection between requests: nothing was lost."""


def rcvtimeo(seconds):
    """`socket-timeout` as the kernel's receive timeout (SO_RCVTIMEO) on a blocking socket, set on a
    connection only once a read has to wait (see arm_timeout): a Python socket timeout would instead
    cost a poll() before every recv and two ioctl()s to switch modes, and setting it up front a
    setsockopt() per request."""
    return struct.pack('ll', int(seconds), int(seconds % 1 * 1000000))


def arm_timeout(conn, timeo):
    """socket-timeout for the blocking reads to come. The first recv of a request goes without it
    (MSG_DONTWAIT, see recv_head): it is set only once a read actually has to wait."""
    conn.setsockopt(SOL_SOCKET, SO_RCVTIMEO, timeo)


def recv_more(conn, timeo):
    """A blocking recv of the head's rest (a rare path: the timeout is re-armed each time)."""
    arm_timeout(conn, timeo)
    try:
        return conn.recv(65536)
    except BlockingIOError:  # SO_RCVTIMEO ran out
        raise socket.timeout() from None


def recv_head(conn, buffer_size, timeo):
    """Read header + vars; return (vars, leftover body bytes, modifier2). Raises ProtocolError, EOFError,
    IdleClose or socket.timeout."""
    try:
        # The front connected and (almost always) wrote its packet at once: try without waiting first.
        buf = conn.recv(65536, MSG_DONTWAIT)
    except BlockingIOError:
        buf = recv_more(conn, timeo)
    if not buf:
        raise IdleClose()
    while len(buf) < 4:
        more = recv_more(conn, timeo)
        if not more:
            raise EOFError('truncated header (%d bytes)' % len(buf))
        buf += more
    modifier1, datasize, modifier2 = _unpack_head(buf, 0)
    if modifier1 not in REQUEST_MODIFIERS:
        raise ProtocolError(400, 'modifier1 %d is not a request usher serves (served: 0, 30)' % modifier1)
    if datasize > buffer_size:
        raise ProtocolError(413, 'request vars are %d bytes, more than buffer-size (%d); raise `buffer-size` '
                                 'if such requests are legitimate' % (datasize, buffer_size))
    if datasize == 0:
        raise ProtocolError(400, 'empty vars block: a request needs at least REQUEST_METHOD')
    total = 4 + datasize
    while len(buf) < total:
        more = recv_more(conn, timeo)
        if not more:
            raise EOFError('truncated vars block (%d of %d bytes)' % (len(buf), total))
        buf += more
    head = buf[:total] if len(buf) > total else buf
    # One latin-1 decode of the head, then str slices at the same offsets (latin-1 maps byte i to char
    # i). This loop runs ~20 times per request and is the worker's largest share of Python time, so it
    # does the least it can: indexing `head` past its end raises IndexError, and the rarer checks
    # (empty key, repeated key, too many vars, a value past the end) cost one test after the loop. Any
    # of them sends the block to the careful parser, which names the fault or joins the repeats.
    text = head.decode('latin-1')
    env = {}
    off = 4
    n = 0
    try:
        while off < total:
            ks = off + 2
            ke = ks + (head[off] | (head[off + 1] << 8))
            vs = ke + 2
            off = vs + (head[ke] | (head[ke + 1] << 8))
            env[text[ks:ke]] = text[vs:off]
            n += 1
    except IndexError:
        env = None
    if env is None or off != total or n != len(env) or n > MAX_VARS or '' in env:
        env = _parse_vars_carefully(text, total)
    if modifier1 == MANAGE_PATH_INFO:
        script, path = env.get('SCRIPT_NAME', ''), env.get('PATH_INFO')
        if script and path is not None and path.startswith(script):
            env['PATH_INFO'] = path[len(script):]
    return env, buf[total:], modifier2


def _parse_vars_carefully(text, total):
    """The vars block var by var: names exactly what is wrong, and joins a header repeated once per
    line (Nginx < 1.23 sends each Cookie line as its own HTTP_COOKIE var)."""
    env = {}
    off = 4
    n = 0
    while off < total:
        if off + 2 > total:
            raise ProtocolError(400, 'key length runs past the vars block')
        ks = off + 2
        ke = ks + (ord(text[off]) | (ord(text[off + 1]) << 8))
        vs = ke + 2
        if ke == ks or vs > total:
            raise ProtocolError(400, 'an empty key in the vars block' if ke == ks else 'key runs past the vars block')
        off = vs + (ord(text[ke]) | (ord(text[ke + 1]) << 8))
        if off > total:
            raise ProtocolError(400, 'value of %r runs past the vars block' % text[ks:ke])
        key = text[ks:ke]
        if key in env and key[:5] == 'HTTP_':
            env[key] += ('; ' if key == 'HTTP_COOKIE' else ', ') + text[vs:off]
        else:
            env[key] = text[vs:off]
        n += 1
    if n > MAX_VARS:
        raise ProtocolError(400, 'more than %d vars in one packet' % MAX_VARS)
    return env
