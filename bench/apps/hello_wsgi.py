# WSGI hello world, served alike by usher, uWSGI and gunicorn.
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '14')])
    return [b'Hello, world!\n']
