/**
 * test/hosts/netns: N "hosts" on one machine, each a network namespace joined to the root namespace by
 * a veth pair: root side 10.213.N.1/24, host side 10.213.N.2/24. The addresses exist only on links this
 * helper made, and cleanup() removes every namespace and veth it made (also after a failure); a
 * previous run's leftovers (its pid no longer alive) are removed first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Host {
  readonly index: number;
  readonly ns: string;
  /** The veth end in the root namespace. */
  readonly dev: string;
  /** The host's address (inside its namespace). */
  readonly addr: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(...args: string[]): void {
  try { ip(...args); } catch { /* already gone */ }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Processes running inside a namespace (e.g. a host's usher), killed at once. */
export function killNamespace(ns: string): void {
  let pids: number[] = [];
  try { pids = ip('netns', 'pids', ns).split(/\s+/).filter(Boolean).map(Number); } catch { return; }
  for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

function removeStale(): void {
  let list = '';
  try { list = ip('netns', 'list'); } catch { return; }
  for (const m of list.matchAll(/^(usher-h\d+-(\d+))\b/gm)) {
    if (alive(Number(m[2]))) continue;
    killNamespace(m[1] as string);
    quietly('netns', 'del', m[1] as string);
  }
}

/**
 * A guard route: the test's hosts live in 10.213.0.0/16 on veth links only, and a packet for one whose
 * link is gone must fail here, never follow the default route out of this machine. The connected /24
 * routes are more specific and win while their links exist.
 */
const GUARD = ['route', 'replace', 'unreachable', '10.213.0.0/16', 'metric', '4000'];

export function makeHosts(n: number): { hosts: Host[]; cleanup: () => void } {
  removeStale();
  const hosts: Host[] = [];
  const cleanup = (): void => {
    for (const h of hosts) {
      killNamespace(h.ns);
      quietly('link', 'del', h.dev); // deleting one end removes the pair
      quietly('netns', 'del', h.ns);
    }
    quietly('route', 'del', 'unreachable', '10.213.0.0/16', 'metric', '4000');
  };
  try {
    ip(...GUARD);
    const base = (process.pid % 80) * 3;
    for (let i = 1; i <= n; i++) {
      const net = `10.213.${base + i}`;
      const h: Host = { index: i, ns: `usher-h${i}-${process.pid}`, dev: `uh${i}p${process.pid}`.slice(0, 15), addr: `${net}.2` };
      ip('netns', 'add', h.ns);
      hosts.push(h);
      ip('link', 'add', h.dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns);
      ip('addr', 'add', `${net}.1/24`, 'dev', h.dev);
      ip('link', 'set', h.dev, 'up');
      ip('-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0');
      ip('-n', h.ns, 'link', 'set', 'eth0', 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    cleanup();
    throw err;
  }
  return { hosts, cleanup };
}

/** The host's own link (inside its namespace) down or up, as when its cable is pulled: packets to it
 *  vanish (time-outs), nothing answers. (Taking the root side down instead would drop the route and
 *  send the packets to the default gateway.) */
export function setLink(h: Host, up: boolean): void {
  ip('-n', h.ns, 'link', 'set', 'eth0', up ? 'up' : 'down');
}

/** Every namespace and veth this run made is gone. */
export function leftovers(hosts: readonly Host[]): string[] {
  const ns = ip('netns', 'list');
  const links = ip('-o', 'link', 'show');
  return hosts.flatMap((h) => [...(ns.includes(h.ns) ? [h.ns] : []), ...(links.includes(`${h.dev}@`) || links.includes(` ${h.dev}:`) ? [h.dev] : [])]);
}
