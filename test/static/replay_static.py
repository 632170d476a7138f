"""Replays a shared static corpus (test/fixtures/static/*.json) against python/usher_wsgi/static.py and
prints the normalized decisions as JSON, in case order; test/static/corpus.test.ts compares them with
the corpus and with the TypeScript resolver. Run by the test with Debian's /usr/bin/python3.
usage: replay_static.py REPO TMPDIR corpus.json [...]   |   replay_static.py REPO TMPDIR --mime
"""
import importlib.util
import json
import os
import sys

repo, tmp = sys.argv[1], sys.argv[2]
spec_ = importlib.util.spec_from_file_location('usher_static', os.path.join(repo, 'python', 'usher_wsgi', 'static.py'))
static = importlib.util.module_from_spec(spec_)
spec_.loader.exec_module(static)


def rel(p):
    return os.path.relpath(p, tmp) if p.startswith(tmp + '/') else p


def normalize(d):
    if d.kind == 'pass':
        return {'pass': d.reason}
    out = {'status': d.status, 'headers': dict(d.headers)}
    if d.kind == 'respond':
        out['reason'] = d.reason
    else:
        out.update(file=rel(d.path), start=d.start, length=d.length, head=d.head)
        os.close(d.fd)
    return out


if sys.argv[3] == '--mime':
    types, sources, _ = static.load_mime_table([os.path.join(tmp, 'mime.types')])
    print(json.dumps({'builtin': static.BUILTIN_MIME, 'parsed': types, 'sources': [rel(s) for s in sources]}))
    sys.exit(0)

results = []
fds_before = len(os.listdir('/proc/self/fd'))
for name in sys.argv[3:]:
    with open(os.path.join(repo, 'test', 'fixtures', 'static', name), encoding='utf-8') as f:
        corpus = json.loads(f.read().replace('{tmp}', tmp))
    resolvers = {k: static.Resolver(v) for k, v in corpus['specs'].items()}
    for case in corpus['cases']:
        r = case['request']
        d = resolvers[case.get('spec', 'main')].resolve(r['method'], r['target'], {k.lower(): v for k, v in r.get('headers', {}).items()}, corpus['now'])
        results.append(normalize(d))
print(json.dumps({'results': results, 'leakedFds': len(os.listdir('/proc/self/fd')) - fds_before}))
