/**
 * child/inflight: the requests a Node child (worker or HTTP router) has in flight, in start order, for
 * the heartbeat (`inflight`, `oldest`), harakiri and the router's http-timeout sweep.
 * A list linked through the requests themselves, not a Set. Measured with a Set (router, 64 kept
 * connections, --trace-gc-nvp): ~1.4 KB promoted to the old generation per request, against ~0.1 KB
 * with this list, and twice the scavenge time; finished requests survived young collections. Why, as
 * far as V8's code says: a Set whose hash table sits in the old generation gets each new table there
 * too (one every few dozen add/delete pairs), and a replaced table keeps its entries (for iterators
 * still on it); until a full GC sweeps it, each young collection takes those entries for live
 * pointers, so the requests that were in flight then, with all they hold, are kept and promoted.
 * Here a request that leaves has its own links cleared and its neighbours relinked: nothing dead
 * points at anything young.
 * Must not: allocate per request.
 */

/** A request in flight, as the counters see it (start time for `oldest` and harakiri). */
export interface Inflight {
  readonly started: number;
  /** The list's links: undefined while not in a list (set them so in the object's constructor or literal). */
  inflightPrev: Inflight | undefined;
  inflightNext: Inflight | undefined;
}

export class InflightList<T extends Inflight = Inflight> {
  private head: T | undefined;
  private tail: T | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(r: T): boolean {
    return r.inflightPrev !== undefined || this.head === r;
  }

  /** Append (the newest last); a request already in the list stays where it is. */
  add(r: T): this {
    if (this.has(r)) return this;
    r.inflightPrev = this.tail;
    r.inflightNext = undefined;
    if (this.tail === undefined) this.head = r;
    else this.tail.inflightNext = r;
    this.tail = r;
    this.count++;
    return this;
  }

  /** Take a request out; false if it was not in the list. */
  delete(r: T): boolean {
    if (!this.has(r)) return false;
    const prev = r.inflightPrev as T | undefined;
    const next = r.inflightNext as T | undefined;
    if (prev === undefined) this.head = next;
    else prev.inflightNext = next;
    if (next === undefined) this.tail = prev;
    else next.inflightPrev = prev;
    r.inflightPrev = undefined;
    r.inflightNext = undefined;
    this.count--;
    return true;
  }

  /**
   * Oldest first. The members are copied out first (iterations are rare: heartbeats and sweeps), so
   * the loop's body may take requests out; one taken out before the loop reaches it is skipped.
   */
  *[Symbol.iterator](): IterableIterator<T> {
    const members: T[] = [];
    for (let r = this.head; r !== undefined; r = r.inflightNext as T | undefined) members.push(r);
    for (const r of members) if (this.has(r)) yield r;
  }
}
