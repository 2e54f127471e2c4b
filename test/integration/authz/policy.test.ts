// Issue 7: the built-in policy. Inside moatd as the in-process plugin `moat-policy`
// (--authorization-policy), offline with `moat authz check`, and served to a real dockerd
// with `moat authz serve`, which then refuses a privileged run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerCli, requires } from '../../helpers/requires.js';
import { REPO, request, startDaemon } from '../../helpers/daemon.js';
import { PLUGIN_DIR, deferStack, uniquePluginName } from '../../helpers/authz-plugin/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const POLICY = {
  version: 1,
  default: 'allow',
  rules: [
    { id: 'no-privileged', action: 'deny', message: 'privileged containers are not allowed', when: { privileged: true } },
    { id: 'binds', action: 'deny', message: 'bind mounts only under /srv/moat-test', when: { bindOutside: ['/srv/moat-test'] } },
    { id: 'no-exec-root', action: 'deny', message: 'exec as root is not allowed', when: { execAsRoot: true } },
    { id: 'no-cgroup-parent', action: 'deny', message: 'no --cgroup-parent', when: { cgroupParent: true } },
  ],
};

function runMoat(args: string[], timeoutMs = 20_000): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [join(REPO, 'bin/moat'), ...args], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('the built-in policy runs inside moatd as moat-policy, and reloads on SIGHUP', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-azpol-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(POLICY));
  symlinkSync('/etc', join(dir, 'etc-link'));
  const d = await startDaemon({ args: ['--authorization-policy', policyFile] });
  defer(() => d.cleanup());
  // Before cleanup: a policy that lets the helper list and remove containers again.
  defer(async () => {
    writeFileSync(policyFile, JSON.stringify(POLICY));
    process.kill(d.pid(), 'SIGHUP');
    for (let i = 0; i < 50 && (await d.api('GET', '/containers/json')).status !== 200; i++) await sleep(100);
  });

  const info = (await d.api('GET', '/info')).json<{ Plugins: { Authorization: string[] } }>();
  assert.deepEqual(info.Plugins.Authorization, ['moat-policy']);

  const priv = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Privileged: true } });
  assert.equal(priv.status, 403);
  assert.equal(priv.json<{ message: string }>().message, 'authorization denied by plugin moat-policy: privileged containers are not allowed (rule no-privileged)');

  const bind = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Binds: [`${join(dir, 'etc-link')}:/x`] } });
  assert.equal(bind.status, 403, 'a symlink to /etc is judged as /etc');
  assert.match(bind.json<{ message: string }>().message, /\(rule binds\)$/);

  const cgp = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { CgroupParent: 'ci/jobs' } });
  assert.equal(cgp.status, 403);
  assert.match(cgp.json<{ message: string }>().message, /no --cgroup-parent \(rule no-cgroup-parent\)$/);

  const ok = await d.api('POST', '/containers/create?name=pol-ok', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(ok.status, 201, ok.body.toString());

  const exec = await d.api('POST', '/containers/pol-ok/exec', { Cmd: ['sh'], User: '0:0' });
  assert.equal(exec.status, 403);
  assert.match(exec.json<{ message: string }>().message, /exec as root is not allowed \(rule no-exec-root\)/);

  // SIGHUP re-reads the policy file.
  writeFileSync(policyFile, JSON.stringify({ ...POLICY, rules: [{ id: 'no-list', action: 'deny', endpoints: ['/containers/json'], methods: ['GET'] }, ...POLICY.rules] }));
  process.kill(d.pid(), 'SIGHUP');
  let status = 0;
  for (let i = 0; i < 50 && status !== 403; i++) {
    await sleep(100);
    status = (await d.api('GET', '/v1.41//containers/json')).status;
  }
  assert.equal(status, 403, 'the reloaded policy denies listing');

  // A broken policy on reload keeps the running one.
  writeFileSync(policyFile, '{"version":1,"default":"allow","rules":[{"id":"x","action":"maybe"}]}');
  process.kill(d.pid(), 'SIGHUP');
  await sleep(500);
  assert.equal((await d.api('GET', '/containers/json')).status, 403);
  assert.match(readFileSync(d.logFile, 'utf8'), /reload failed; keeping the running configuration/);

  const audit = readFileSync(join(d.dataRoot, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(audit.some((a) => a['rule'] === 'no-privileged' && a['decision'] === 'deny' && a['user'] === 'root' && a['path'] === '/containers/create'));
});

test('moatd refuses to start with an invalid policy file', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const dir = mkdtempSync('/tmp/mt-azpol-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.json'), '{"version":1,"default":"allow","rules":[{"id":"a","action":"deny","when":{"bindOutside":["relative"]}}]}');
  await assert.rejects(startDaemon({ args: ['--authorization-policy', join(dir, 'bad.json')] }), /Cannot load authorization policy .*bad\.json: .*bindOutside\[0\]/);
});

test('moat authz check decides a request file offline', (t) => {
  const dir = mkdtempSync('/tmp/mt-azpol-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
  writeFileSync(join(dir, 'priv.json'), JSON.stringify({ Method: 'POST', URI: '/v1.41/containers/create', User: 'alice', Body: { Image: 'x', HostConfig: { Privileged: true } } }));
  const body = Buffer.from(JSON.stringify({ Image: 'x', HostConfig: { Binds: ['/srv/moat-test/a:/a'] } })).toString('base64');
  writeFileSync(join(dir, 'wire.json'), JSON.stringify({ RequestMethod: 'POST', RequestUri: '/containers/create', RequestBody: body, RequestHeaders: { 'Content-Type': 'application/json' } }));
  const deny = runMoat(['authz', 'check', '--policy', join(dir, 'policy.json'), join(dir, 'priv.json')]);
  assert.equal(deny.code, 1, deny.stderr);
  assert.match(deny.stdout, /^deny\nrule: no-privileged\n/);
  const allow = runMoat(['authz', 'check', '--policy', join(dir, 'policy.json'), join(dir, 'wire.json')]);
  assert.equal(allow.code, 0, allow.stderr + allow.stdout);
  assert.match(allow.stdout, /^allow\n/);
});

// ---------------------------------------------------------------------------------------
// A stock dockerd with the policy served by `moat authz serve`.

/** The harness's unix-socket request, with the body as text. */
async function dockerApi(socket: string, method: string, path: string, body?: Buffer | object, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await request(socket, method, path, body, headers);
  return { status: r.status, text: r.body.toString() };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let i = 0; i < ms / 100; i++) {
    if (!alive(pid)) return true;
    await sleep(100);
  }
  return !alive(pid);
}

/** Pids whose command line mentions `needle` (the processes this test's dockerd started). */
function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

test('a stock dockerd with `moat authz serve` refuses a privileged run', async (t) => {
  if (!requires(t, 'root', 'dockerd', 'busybox')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-azdkd-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const name = uniquePluginName('pol');
  const socket = join(PLUGIN_DIR, `${name}.sock`);
  mkdirSync(PLUGIN_DIR, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));

  // The plugin.
  const plugin: ChildProcess = spawn(process.execPath, [join(REPO, 'bin/moat'), 'authz', 'serve', '--policy', join(dir, 'policy.json'), '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let pluginErr = '';
  plugin.stderr!.on('data', (c: Buffer) => (pluginErr += c.toString()));
  defer(async () => {
    if (plugin.exitCode === null && plugin.signalCode === null) {
      plugin.kill('SIGTERM');
      if (!(await waitGone(plugin.pid!, 5000))) plugin.kill('SIGKILL');
    }
    rmSync(socket, { force: true });
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
  assert.ok(existsSync(socket), `moat authz serve did not listen: ${pluginErr}`);

  // dockerd on temporary roots.
  const dsock = join(dir, 'docker.sock');
  const pidfile = join(dir, 'docker.pid');
  const dockerd: ChildProcess = spawn(
    '/usr/sbin/dockerd',
    ['--host', `unix://${dsock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', pidfile, '--storage-driver', 'vfs', '--iptables=false', '--ip-masq=false', '--bridge=none', '--authorization-plugin', name],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let dlog = '';
  dockerd.stdout!.on('data', (c: Buffer) => (dlog += c.toString()));
  dockerd.stderr!.on('data', (c: Buffer) => (dlog += c.toString()));
  defer(async () => {
    if (dockerd.exitCode === null && dockerd.signalCode === null) {
      dockerd.kill('SIGTERM');
      if (!(await waitGone(dockerd.pid!, 20_000))) dockerd.kill('SIGKILL');
    }
    // its containerd, shims and containers carry our temp dir in argv
    for (const pid of pidsMentioning(dir)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(dir)).sort((a, b) => b.length - a.length);
    for (const m of mounts) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  });
  let up = false;
  for (let i = 0; i < 300 && !up; i++) {
    if (dockerd.exitCode !== null) break;
    up = existsSync(dsock) && (await dockerApi(dsock, 'GET', '/_ping').then((r) => r.status === 200, () => false));
    if (!up) await sleep(100);
  }
  if (!up) {
    // dockerd needs a kernel and cgroups it can use; say why instead of failing the suite.
    t.skip(`dockerd did not start on this machine: ${dlog.split('\n').filter((l) => /level=(error|fatal)/.test(l)).slice(-3).join(' | ') || dlog.slice(-500)}`);
    return;
  }

  // A busybox image: a tar of /bin/busybox, imported (the plugin never sees tar bodies).
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'true']) symlinkSync('busybox', join(rootfs, 'bin', a));
  execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'bb.tar'), '.']);
  const imp = await dockerApi(dsock, 'POST', '/v1.41/images/create?fromSrc=-&repo=moat-authz-bb&tag=local', readFileSync(join(dir, 'bb.tar')), { 'Content-Type': 'application/x-tar' });
  assert.equal(imp.status, 200, imp.text);

  const cli = dockerCli();
  if (cli) {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(dir, 'docker-cli') };
    delete env['DOCKER_HOST'];
    delete env['DOCKER_CONTEXT'];
    const run = spawn(cli, ['-H', `unix://${dsock}`, 'run', '--rm', '--privileged', 'moat-authz-bb:local', 'true'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let err = '';
    run.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => {
      const timer = setTimeout(() => run.kill('SIGKILL'), 60_000);
      run.on('close', (c) => {
        clearTimeout(timer);
        r(c);
      });
    });
    assert.equal(code, 125, err);
    assert.match(err, new RegExp(`Error response from daemon: authorization denied by plugin ${name}: privileged containers are not allowed \\(rule no-privileged\\)`));
  }
  // The same through the API, and the body dockerd 20.10 does not forward (over 1 MiB) is
  // denied by the policy instead of passing unseen.
  const priv = await dockerApi(dsock, 'POST', '/v1.41/containers/create', { Image: 'moat-authz-bb:local', Cmd: ['true'], HostConfig: { Privileged: true } });
  assert.equal(priv.status, 403, priv.text);
  assert.match(priv.text, /privileged containers are not allowed/);
  const padded = await dockerApi(dsock, 'POST', '/v1.41/containers/create', { Image: 'moat-authz-bb:local', Labels: { pad: 'x'.repeat(1_100_000) }, HostConfig: { Privileged: true } });
  assert.equal(padded.status, 403, padded.text.slice(0, 300));
  assert.match(padded.text, /request body not visible to the authorization plugin/);
  const plain = await dockerApi(dsock, 'POST', '/v1.41/containers/create', { Image: 'moat-authz-bb:local', Cmd: ['true'] });
  assert.equal(plain.status, 201, plain.text);
  const list = JSON.parse((await dockerApi(dsock, 'GET', '/v1.41/containers/json?all=1')).text) as Array<{ Id: string }>;
  for (const c of list) {
    const hc = (JSON.parse((await dockerApi(dsock, 'GET', `/v1.41/containers/${c.Id}/json`)).text) as { HostConfig: { Privileged: boolean } }).HostConfig;
    assert.equal(hc.Privileged, false, `container ${c.Id} is privileged`);
  }
  assert.equal(list.length, 1);
});

test('moat authz serve answers the plugin protocol and survives a broken policy on SIGHUP', async (t) => {
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-azsrv-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(POLICY));
  const socket = join(dir, 'p.sock');
  const srv = spawn(process.execPath, [join(REPO, 'bin/moat'), 'authz', 'serve', '--policy', policyFile, '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  srv.stderr.on('data', (c: Buffer) => (err += c.toString()));
  defer(async () => {
    if (srv.exitCode === null && srv.signalCode === null) {
      srv.kill('SIGTERM');
      if (!(await waitGone(srv.pid!, 5000))) srv.kill('SIGKILL');
    }
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
  const call = (path: string, body: object | undefined): Promise<{ status: number; text: string }> => dockerApi(socket, 'POST', path, body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body) + '\n'), { Accept: 'application/vnd.docker.plugins.v1.2+json' });
  const act = await call('/Plugin.Activate', undefined);
  assert.equal(act.status, 200, err);
  assert.deepEqual(JSON.parse(act.text), { Implements: ['authz'] });
  const privWire = { RequestMethod: 'POST', RequestUri: '/v1.41/containers/%63reate', RequestBody: Buffer.from('{"HostConfig":{"Privileged":true}}').toString('base64'), RequestHeaders: { 'Content-Type': 'application/json' } };
  const deny = JSON.parse((await call('/AuthZPlugin.AuthZReq', privWire)).text) as { Allow: boolean; Msg: string };
  assert.equal(deny.Allow, false);
  assert.match(deny.Msg, /privileged containers are not allowed \(rule no-privileged\)/);
  writeFileSync(policyFile, '{"version":1,"default":"allow","rules":[{"id":"x","action":"maybe"}]}');
  srv.kill('SIGHUP');
  await sleep(300);
  assert.equal(srv.exitCode, null, `moat authz serve died on a broken policy: ${err}`);
  assert.match(err, /policy reload failed; keeping the running policy/);
  const still = JSON.parse((await call('/AuthZPlugin.AuthZReq', privWire)).text) as { Allow: boolean };
  assert.equal(still.Allow, false, 'the old policy still decides');
});
