/**
 * master/privileges: `uid`, `gid`, `chown-socket` and `umask`, with uWSGI's order of events. Names are
 * resolved and checked before anything is created (a bad one stops usher with nothing left behind);
 * as root, the master binds every socket, chowns/chmods them, writes the pidfile and opens the log,
 * then drops to `uid`/`gid` (with the user's supplementary groups) before it starts any child, so no
 * app code and no request parsing ever runs as root.
 * Names resolve through `getent` (NSS: /etc/passwd, LDAP, sssd), falling back to /etc/passwd and
 * /etc/group when getent is absent.
 * Must not: bind sockets, or decide when to drop (master/index does, once everything root-only is done).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { UsherConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** The user's name, for initgroups; undefined for a bare number with no passwd entry. */
  readonly user: string | undefined;
}

export interface PrivilegePlan {
  /** Who to become once everything root-only is done; undefined = stay as we are. */
  readonly drop: Identity | undefined;
  /** Owner of unix sockets (`chown-socket`). */
  readonly socketOwner: { readonly uid: number; readonly gid: number } | undefined;
  readonly umask: number | undefined;
}

interface Entry { readonly name: string; readonly id: number; readonly gid: number }

function lookup(db: 'passwd' | 'group', key: string): Entry | undefined {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8' });
  let line: string | undefined;
  if (r.error === undefined) {
    line = r.status === 0 ? r.stdout.split('\n')[0] : undefined;
  } else {
    // No getent: read the flat file.
    const file = readFileSync(`/etc/${db}`, 'utf8');
    line = file.split('\n').find((l) => { const f = l.split(':'); return f[0] === key || f[2] === key; });
  }
  if (line === undefined || line === '') return undefined;
  const f = line.split(':');
  return { name: f[0] ?? key, id: Number(f[2]), gid: Number(db === 'passwd' ? f[3] : f[2]) };
}

function at(c: UsherConfig, option: string): { file?: string; line?: number; option: string } {
  return { file: c.sources[option]?.file, line: c.sources[option]?.line, option };
}

function user(c: UsherConfig, option: string, value: string): Entry {
  const e = lookup('passwd', value);
  if (e !== undefined) return e;
  if (/^\d+$/.test(value)) return { name: '', id: Number(value), gid: -1 };
  throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${option} = ${value}: no such user on this machine (getent passwd ${value} finds nothing); create it or fix the name`, at(c, option));
}

function group(c: UsherConfig, option: string, value: string): number {
  const e = lookup('group', value);
  if (e !== undefined) return e.id;
  if (/^\d+$/.test(value)) return Number(value);
  throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `${option} = ${value}: no such group on this machine (getent group ${value} finds nothing); create it or fix the name`, at(c, option));
}

/** Resolve and check every privilege option; throws ConfigError naming the option. Creates nothing. */
export function planPrivileges(c: UsherConfig): PrivilegePlan {
  const root = process.getuid?.() === 0;
  let umask: number | undefined;
  if (c.umask !== undefined) {
    if (!/^[0-7]{1,4}$/.test(c.umask)) throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `umask = ${c.umask}: expected an octal mask such as 022 or 007`, at(c, 'umask'));
    umask = parseInt(c.umask, 8);
  }
  let drop: Identity | undefined;
  if (c.uid !== undefined || c.gid !== undefined) {
    const u = c.uid !== undefined ? user(c, 'uid', c.uid) : undefined;
    let gid: number;
    if (c.gid !== undefined) gid = group(c, 'gid', c.gid);
    else if (u !== undefined && u.gid >= 0) gid = u.gid;
    else throw new ConfigError('USHER_ERR_CONFIG_MISSING', `uid = ${c.uid}: the user has no passwd entry, so its group is unknown; set \`gid\` too`, at(c, 'uid'));
    const uid = u?.id ?? process.getuid?.() ?? 0;
    if (!root) {
      if (uid !== process.getuid?.()) {
        throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', `uid = ${c.uid}: only root can switch users, and usher runs as uid ${process.getuid?.()}; start it as root (systemd: leave User= out and let usher drop) or remove \`uid\``, at(c, 'uid'));
      }
      if (gid !== process.getgid?.()) {
        throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', `gid = ${c.gid ?? gid}: only root can switch groups, and usher runs as gid ${process.getgid?.()}; start it as root or remove \`gid\``, at(c, c.gid !== undefined ? 'gid' : 'uid'));
      }
    }
    drop = root ? { uid, gid, user: u !== undefined && u.name !== '' ? u.name : undefined } : undefined;
  }
  let socketOwner: PrivilegePlan['socketOwner'];
  if (c.chownSocket !== undefined) {
    const [name = '', grp] = c.chownSocket.split(':');
    const u = user(c, 'chown-socket', name);
    const gid = grp !== undefined && grp !== '' ? group(c, 'chown-socket', grp) : u.gid >= 0 ? u.gid : process.getgid?.() ?? 0;
    if (!root && (u.id !== process.getuid?.() || !(process.getgroups?.() ?? []).includes(gid))) {
      throw new ConfigError('USHER_ERR_CONFIG_CONFLICT', `chown-socket = ${c.chownSocket}: only root can give a socket to another user or a group it is not in; start usher as root or remove \`chown-socket\``, at(c, 'chown-socket'));
    }
    socketOwner = { uid: u.id, gid };
  }
  return { drop, socketOwner, umask };
}

/** Become `drop` for good (supplementary groups, then group, then user), and check it took. */
export function dropPrivileges(drop: Identity, log: Logger): void {
  const p = process as unknown as { initgroups?(user: string, extra: number): void };
  if (drop.user !== undefined && p.initgroups !== undefined) p.initgroups(drop.user, drop.gid);
  else process.setgroups?.([drop.gid]);
  process.setgid?.(drop.gid);
  process.setuid?.(drop.uid);
  if (process.getuid?.() !== drop.uid || process.geteuid?.() !== drop.uid || process.getgid?.() !== drop.gid || process.getegid?.() !== drop.gid) {
    throw new ConfigError('USHER_ERR_CONFIG_BAD_VALUE', `could not switch to uid ${drop.uid} gid ${drop.gid}`, { option: 'uid' });
  }
  log.info('dropped privileges', { uid: drop.uid, gid: drop.gid, user: drop.user, groups: (process.getgroups?.() ?? []).join(',') });
}
