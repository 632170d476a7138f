// Deployment files are pure renderings: the systemd unit keeps the seed's essentials and adds what
// production needs; the site configs carry the static fix; and `usher deploy` derives them from an ini.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { renderSystemdUnit } from '../../src/deploy/systemd.js';
import { renderApacheSite, renderNginxSite } from '../../src/deploy/sites.js';
import { REPO, USHER_BIN } from '../helpers/usher.js';

test('systemd unit: the seed\'s User/Restart plus graceful reload and stop', () => {
  const unit = renderSystemdUnit({ description: 'guestbook', user: 'www-data', group: 'www-data', workingDirectory: '/srv/gb', execStart: '/usr/bin/usher --ini /srv/gb/uwsgi.ini', runtimeDirectory: 'usher' });
  for (const line of ['User=www-data', 'Group=www-data', 'WorkingDirectory=/srv/gb', 'ExecStart=/usr/bin/usher --ini /srv/gb/uwsgi.ini', 'Restart=always', 'RestartSec=5',
    'After=network.target', 'WantedBy=multi-user.target', 'RuntimeDirectory=usher', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillSignal=SIGTERM']) {
    assert.ok(unit.split('\n').includes(line), line);
  }
});

test('site configs for both modes; Apache serves /static/ thanks to ProxyPass /static/ !', () => {
  const n = renderNginxSite({ mode: 'socket', name: 'gb', serverName: 'guestbook.local', socketPath: '/run/usher/gb.sock', staticDir: '/srv/static', logDir: '/var/log/nginx' });
  assert.match(n, /include uwsgi_params;\n\s+uwsgi_pass unix:\/run\/usher\/gb\.sock;/);
  assert.match(n, /location \/static\/ \{\n\s+alias \/srv\/static\/;/);
  const a = renderApacheSite({ mode: 'http', name: 'gb', serverName: 'guestbook.local', upstream: '127.0.0.1:8080', staticDir: '/srv/static', logDir: '/var/log/apache2' });
  assert.ok(a.indexOf('ProxyPass /static/ !') < a.indexOf('ProxyPass / http://127.0.0.1:8080/'), 'the exclusion comes before the catch-all');
  const s = renderApacheSite({ mode: 'socket', name: 'gb', serverName: 'x', socketPath: '/run/usher/gb.sock', logDir: '/l' });
  assert.match(s, /ProxyPassMatch \^\/\(\.\*\)\$ unix:\/run\/usher\/gb\.sock\|uwsgi:\/\/localhost\//);
});

test('usher deploy derives the files from an ini', () => {
  const ini = join(REPO, 'examples', 'django-guestbook', 'uwsgi-socket.ini');
  const unit = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'systemd', '--ini', ini], { encoding: 'utf8' });
  assert.match(unit, new RegExp(`ExecStart=/usr/bin/usher --ini ${ini.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  const site = execFileSync(process.execPath, [USHER_BIN, 'deploy', 'nginx', '--ini', ini, '--static', '/srv/static'], { encoding: 'utf8' });
  assert.match(site, /uwsgi_pass unix:.*\/run\/guestbook\.sock;/);
});
