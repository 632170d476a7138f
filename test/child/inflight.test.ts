// The in-flight list replaces a Set in workers and the router: the same answers (size, membership,
// start order, delete's boolean), and a loop over it may take requests out, as harakiri's does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InflightList, type Inflight } from '../../src/child/inflight.js';

interface R extends Inflight { readonly name: string }
const req = (name: string, started = 0): R => ({ name, started, inflightPrev: undefined, inflightNext: undefined });
const names = (l: InflightList<R>): string[] => [...l].map((r) => r.name);

test('start order, size and membership through adds and deletes at the head, middle and tail', () => {
  const l = new InflightList<R>();
  const [a, b, c, d] = [req('a'), req('b'), req('c'), req('d')];
  assert.equal(l.size, 0);
  assert.deepEqual(names(l), []);
  l.add(a).add(b).add(c).add(d);
  l.add(b); // already in: stays where it is
  assert.equal(l.size, 4);
  assert.deepEqual(names(l), ['a', 'b', 'c', 'd']);
  assert.equal(l.delete(c), true, 'middle');
  assert.equal(l.delete(c), false, 'not twice');
  assert.deepEqual(names(l), ['a', 'b', 'd']);
  assert.equal(l.delete(a), true, 'head');
  assert.equal(l.delete(d), true, 'tail');
  assert.deepEqual(names(l), ['b']);
  assert.equal(l.has(b), true);
  assert.equal(l.has(a), false);
  l.add(a);
  assert.deepEqual(names(l), ['b', 'a'], 'a request back in goes last');
  assert.equal(l.delete(b), true);
  assert.equal(l.delete(a), true);
  assert.equal(l.size, 0);
  assert.deepEqual(names(l), []);
  assert.equal(l.has(b), false, 'the only member taken out');
});

test('a request that leaves has no links left (nothing dead keeps a live request reachable)', () => {
  const l = new InflightList<R>();
  const [a, b, c] = [req('a'), req('b'), req('c')];
  l.add(a).add(b).add(c);
  l.delete(b);
  assert.equal(b.inflightPrev, undefined);
  assert.equal(b.inflightNext, undefined);
  assert.equal(a.inflightNext, c);
  assert.equal(c.inflightPrev, a);
});

test('a loop may take out the request it is on, or one it has not reached yet', () => {
  const l = new InflightList<R>();
  const rs = ['a', 'b', 'c', 'd', 'e'].map((n, i) => req(n, i));
  for (const r of rs) l.add(r);
  const seen: string[] = [];
  for (const r of l) {
    seen.push(r.name);
    if (r.name === 'b') l.delete(r); // the current one (harakiri cuts it)
    if (r.name === 'c') l.delete(rs[3] as R); // one ahead: skipped
  }
  assert.deepEqual(seen, ['a', 'b', 'c', 'e']);
  assert.deepEqual(names(l), ['a', 'c', 'e']);
  assert.equal(l.size, 3);
});
