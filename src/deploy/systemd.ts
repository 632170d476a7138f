/**
 * deploy/systemd: renders a systemd unit for usher, after the seed's (User=www-data, Restart=always)
 * plus what a production unit needs. A pure function: it writes nothing and checks nothing.
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
}

export function renderSystemdUnit(o: SystemdOptions): string {
  const lines = [
    '[Unit]',
    `Description=${o.description}`,
    'After=network.target',
    '',
    '[Service]',
    `User=${o.user}`,
    `Group=${o.group}`,
    `WorkingDirectory=${o.workingDirectory}`,
    ...(o.environment ?? []).map((e) => `Environment="${e.replace(/"/g, '\\"')}"`),
  ];
  if (o.runtimeDirectory !== undefined) {
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
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}
