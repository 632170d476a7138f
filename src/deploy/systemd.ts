/**
 * deploy/systemd: renders a systemd unit for usher, after the seed's (User=www-data, Restart=always)
 * plus what a production unit needs: Type=notify (usher says READY=1 once every worker serves,
 * RELOADING=1/READY=1 around a reload, STOPPING=1), and optionally a matching .socket unit so systemd
 * owns the sockets and usher adopts them. Pure functions: they write nothing and check nothing.
 */
export interface SystemdOptions {
  readonly description: string;
  readonly user: string;
  readonly group: string;
  readonly workingDirectory: string;
  readonly execStart: string;
  readonly environment?: readonly string[];
  readonly restartSec?: number;
  /** A folder under /run for unix sockets (RuntimeDirectory=), e.g. `usher` for /run/usher. */
  readonly runtimeDirectory?: string;
  readonly stopTimeoutSec?: number;
  /** The name of a matching .socket unit (socket activation): the service requires it. */
  readonly socketUnit?: string;
}

export function renderSystemdUnit(o: SystemdOptions): string {
  const lines = [
    '[Unit]',
    `Description=${o.description}`,
    'After=network.target',
  ];
  if (o.socketUnit !== undefined) lines.push(`# systemd binds the sockets (${o.socketUnit}) and passes them to usher`, `Requires=${o.socketUnit}`, `After=${o.socketUnit}`);
  lines.push(
    '',
    '[Service]',
    '# usher tells systemd when every worker serves (READY=1), around reloads (RELOADING=1) and on stop;',
    '# the messages are sent by systemd-notify, a child of the master, hence NotifyAccess=all',
    'Type=notify',
    'NotifyAccess=all',
    `User=${o.user}`,
    `Group=${o.group}`,
    `WorkingDirectory=${o.workingDirectory}`,
    ...(o.environment ?? []).map((e) => `Environment="${e.replace(/"/g, '\\"')}"`),
  );
  // With a .socket unit, systemd creates the socket's folder; a RuntimeDirectory= would be removed
  // (socket and all) whenever the service stops, while the socket unit still listens.
  if (o.runtimeDirectory !== undefined && o.socketUnit === undefined) {
    lines.push(`# /run/${o.runtimeDirectory} for the socket, owned by ${o.user}, removed when the service stops`, `RuntimeDirectory=${o.runtimeDirectory}`);
  }
  lines.push(
    `ExecStart=${o.execStart}`,
    '# usher reloads gracefully on SIGHUP and stops gracefully on SIGTERM (uWSGI 2.0 reloads on SIGTERM)',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${o.stopTimeoutSec ?? 40}`,
    'Restart=always',
    `RestartSec=${o.restartSec ?? 5}`,
    '# To have systemd restart a master whose event loop hangs, add: WatchdogSec=30',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

export interface SocketUnitOptions {
  readonly description: string;
  /** Unix socket paths or host:port, as in the ini (`:8080` listens on every interface). */
  readonly listen: readonly string[];
  readonly user: string;
  readonly group: string;
  /** chmod-socket, e.g. 0o660. */
  readonly mode?: number;
  readonly backlog: number;
}

/** A .socket unit binding what the ini's `socket`/`http`/`http-socket` name; usher adopts each by address. */
export function renderSystemdSocket(o: SocketUnitOptions): string {
  const lines = ['[Unit]', `Description=${o.description} (sockets)`, '', '[Socket]'];
  for (const l of o.listen) lines.push(`ListenStream=${l.startsWith(':') ? l.slice(1) : l}`);
  if (o.listen.some((l) => l.startsWith('/'))) {
    lines.push(`SocketUser=${o.user}`, `SocketGroup=${o.group}`, `SocketMode=${(o.mode ?? 0o660).toString(8).padStart(4, '0')}`);
  }
  lines.push(`Backlog=${o.backlog}`, '', '[Install]', 'WantedBy=sockets.target', '');
  return lines.join('\n');
}
