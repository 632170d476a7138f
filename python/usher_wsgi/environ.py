"""environ: a request's uwsgi vars -> the WSGI environ (PEP 3333), and the vars that cannot make one:
a REQUEST_METHOD that is not an HTTP token or a CONTENT_LENGTH that is not a plain length (400), or a
body over limit-post (413, its body read and dropped). Must not: run the app, or read the head (codec).
"""
import re
from time import monotonic

from .wsgi import Input, simple_response

DRAIN_TIMEOUT_S = 10.0
MAX_CONTENT_LENGTH = 2 ** 53 - 1
# An HTTP token (RFC 9110): what a REQUEST_METHOD must be.
# The usual ones skip the regex.
COMMON_METHODS = frozenset(('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'))
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def bad_method(method):
    """Why REQUEST_METHOD cannot be served (for the log), or None when it is a token."""
    if method in COMMON_METHODS or (method and _TOKEN.match(method)):
        return None
    return 'bad REQUEST_METHOD %s' % ascii(method[:64]) if method else 'no REQUEST_METHOD in the uwsgi vars'


def body_length(conn, env, vars_, pending, cfg, log):
    """The body's length from CONTENT_LENGTH (dropped from env when empty), or None once the request
    was answered (400 for a bad length, 413 over limit-post)."""
    cl = env.get('CONTENT_LENGTH')
    if not cl:
        if cl is not None:  # Nginx's uwsgi_params send it empty: PEP 3333 says absent
            del env['CONTENT_LENGTH']
        return 0
    # ASCII digits only (isdigit() alone passes '²' or '٣', which int() refuses or reads), and at
    # most 2**53 - 1, the largest the Node worker takes too: no sign, space, NUL, underscore.
    if not (cl.isdigit() and cl.isascii()) or len(cl) > 16 or int(cl) > MAX_CONTENT_LENGTH:
        log('WARN', 'bad uwsgi packet', status=400, reason='bad CONTENT_LENGTH %s' % ascii(cl[:64]))
        simple_response(conn, 400, 'Bad Request')
        return None
    length = int(cl)
    if cfg.limit_post and length > cfg.limit_post:
        log('WARN', 'request body over limit-post; answered 413', uri=vars_.get('REQUEST_URI', ''), limit=cfg.limit_post, size=length)
        simple_response(conn, 413, 'Request Entity Too Large (limit-post)')
        # read and drop the body before closing: a front still sending it would see a reset (502)
        Input(conn, pending, length, cfg).drain(monotonic() + DRAIN_TIMEOUT_S)
        return None
    return length


def complete(env):
    """What PEP 3333 requires and a front may not send: PATH_INFO, QUERY_STRING, the URL scheme."""
    if not env.get('CONTENT_TYPE', True):
        del env['CONTENT_TYPE']
    if 'PATH_INFO' not in env:
        uri = env.get('REQUEST_URI', '/')
        env['PATH_INFO'] = uri.split('?', 1)[0][len(env['SCRIPT_NAME']):]
    if 'QUERY_STRING' not in env:
        env['QUERY_STRING'] = ''
    https = env.get('HTTPS')
    scheme = env.get('REQUEST_SCHEME') or env.get('UWSGI_SCHEME')
    if (https and https.lower() in ('on', '1')) or (scheme and scheme.lower() == 'https'):
        env['wsgi.url_scheme'] = 'https'
