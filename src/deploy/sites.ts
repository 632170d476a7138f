/**
 * deploy/sites: renders the Nginx and Apache site configs of the seed for either mode, from an usher
 * config's addresses. Pure functions. The Apache ones carry `ProxyPass /static/ !`, without which the
 * seed's Alias never serves /static/ (mod_proxy maps first).
 */
export interface SiteOptions {
  readonly mode: 'http' | 'socket';
  readonly name: string;
  readonly serverName: string;
  /** mode http: the address usher listens on (127.0.0.1:8080). */
  readonly upstream?: string;
  /** mode socket: usher's unix socket. */
  readonly socketPath?: string;
  readonly staticDir?: string;
  readonly staticUrl?: string;
  readonly logDir: string;
}

function need(v: string | undefined, what: string): string {
  if (v === undefined) throw new Error(`${what} is needed for this mode`);
  return v;
}

export function renderNginxSite(o: SiteOptions): string {
  const url = o.staticUrl ?? '/static/';
  const location = o.mode === 'http'
    ? `        proxy_pass http://${need(o.upstream, 'an http address')};\n        proxy_set_header Host $host;\n        proxy_set_header X-Real-IP $remote_addr;`
    : `        include uwsgi_params;\n        uwsgi_pass unix:${need(o.socketPath, 'a socket path')};`;
  const stat = o.staticDir !== undefined ? `\n    location ${url} {\n        alias ${o.staticDir.replace(/\/?$/, '/')};\n    }\n` : '';
  return `server {
    listen 80;
    server_name ${o.serverName};

    location / {
${location}
    }
${stat}
    error_log ${o.logDir}/${o.name}_error.log;
    access_log ${o.logDir}/${o.name}_access.log;
}
`;
}

export function renderApacheSite(o: SiteOptions): string {
  const url = o.staticUrl ?? '/static/';
  const proxy = o.mode === 'http'
    ? `    ProxyPass / http://${need(o.upstream, 'an http address')}/\n    ProxyPassReverse / http://${o.upstream}/`
    : `    ProxyPassMatch ^/(.*)$ unix:${need(o.socketPath, 'a socket path')}|uwsgi://localhost/`;
  const modules = o.mode === 'http' ? 'proxy proxy_http' : 'proxy proxy_uwsgi';
  const stat = o.staticDir !== undefined
    ? `    # Before the proxy lines: mod_proxy maps first, so without this the Alias never serves ${url}.
    ProxyPass ${url} !
`
    : '';
  const alias = o.staticDir !== undefined
    ? `
    Alias ${url} ${o.staticDir.replace(/\/?$/, '/')}
    <Directory ${o.staticDir.replace(/\/$/, '')}>
        Require all granted
    </Directory>
`
    : '';
  return `# a2enmod ${modules}
<VirtualHost *:80>
    ServerName ${o.serverName}

${stat}${proxy}
${alias}
    ErrorLog ${o.logDir}/${o.name}_error.log
    CustomLog ${o.logDir}/${o.name}_access.log combined
</VirtualHost>
`;
}
