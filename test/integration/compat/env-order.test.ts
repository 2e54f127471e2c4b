// The environment a container and an exec get, compared with a stock dockerd (a temporary one
// on temp roots, stopped and removed at the end) for the same image and flags: Config.Env in
// inspect and the process's own `env`, in order, unsets and a terminal included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { demuxText } from '../../helpers/containers.js';
import { request, startDaemon } from '../../helpers/daemon.js';
import { dockerdForTest } from '../../helpers/dockerd.js';
import { dockerOk } from './cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

test('Config.Env and the process environment in dockerd\'s order', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli', 'dockerd')) return;
  const dockerd = await dockerdForTest(t);
  if (!dockerd) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = mkdtempSync('/tmp/mt-env-order-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Dockerfile'), ['FROM busybox', 'ENV A=img B=img', 'ENV Z=img'].join('\n'));
  await dockerOk(d, ['build', '-t', 'env-order:1', dir], { timeoutMs: 120_000 });
  const saved = join(dir, 'image.tar');
  await dockerOk(d, ['save', '-o', saved, 'env-order:1']);
  const onDockerd = dockerd.cli;
  onDockerd(['load', '-i', saved]);

  // Through the API: the docker CLI passes -e through a Go map on the way (its proxy settings),
  // so the order it sends changes from one run to the next.
  const daemons: Array<[string, string]> = [['moat', d.socket], ['dockerd', dockerd.socket]];
  const api = async (socket: string, method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await request(socket, method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body.toString()}`);
    return r.body.length > 0 ? r.json() : undefined;
  };
  const config = (name: string, tty: boolean, cmd: string[]): unknown => ({
    Image: 'env-order:1',
    Hostname: 'h1',
    Env: ['C=own', 'A=own', 'Z', 'PATH=/bin:/usr/bin'],
    Cmd: cmd,
    Tty: tty,
    HostConfig: { NetworkMode: 'none' },
    name,
  });
  const onBoth = async (fn: (socket: string, run: (args: string[]) => Promise<string>) => Promise<string>): Promise<[string, string]> => {
    const out: string[] = [];
    for (const [which, socket] of daemons) out.push(await fn(socket, (args) => (which === 'moat' ? dockerOk(d, args) : Promise.resolve(onDockerd(args)))));
    return [out[0]!, out[1]!];
  };

  await t.test('Config.Env: the container\'s entries, then the image\'s it does not name', async () => {
    const [moat, docker] = await onBoth(async (socket) => {
      await api(socket, 'POST', '/containers/create?name=env-c', config('env-c', false, ['env']));
      return JSON.stringify(((await api(socket, 'GET', '/containers/env-c/json')) as { Config: { Env: string[] } }).Config.Env);
    });
    assert.deepEqual(JSON.parse(moat), JSON.parse(docker));
    assert.deepEqual(JSON.parse(moat), ['C=own', 'A=own', 'Z', 'PATH=/bin:/usr/bin', 'B=img']);
  });

  await t.test('the process environment, without and with a terminal', async () => {
    const [moat, docker] = await onBoth((_socket, run) => run(['start', '-a', 'env-c']));
    assert.equal(moat, docker);
    assert.deepEqual(moat.trim().split('\n'), ['PATH=/bin:/usr/bin', 'HOSTNAME=h1', 'C=own', 'A=own', 'B=img', 'HOME=/root']);
    const [moatTty, dockerTty] = await onBoth(async (socket, run) => {
      await api(socket, 'POST', '/containers/create?name=env-t', config('env-t', true, ['env']));
      return run(['start', '-a', 'env-t']);
    });
    assert.equal(moatTty, dockerTty);
    assert.match(moatTty, /^PATH=\/bin:\/usr\/bin\r\nHOSTNAME=h1\r\nTERM=xterm\r\nC=own\r\n/);
  });

  await t.test('an exec\'s environment, without and with a terminal', async () => {
    for (const tty of [false, true]) {
      const [moat, docker] = await onBoth(async (socket) => {
        if (!tty) await api(socket, 'POST', '/containers/create?name=env-x', config('env-x', false, ['sleep', '300']));
        if (!tty) await api(socket, 'POST', '/containers/env-x/start');
        const { Id } = (await api(socket, 'POST', '/containers/env-x/exec', { Cmd: ['env'], Env: ['D=exec', 'C=exec', 'HOSTNAME'], Tty: tty, AttachStdout: true, AttachStderr: true })) as { Id: string };
        const r = await request(socket, 'POST', `/exec/${Id}/start`, { Detach: false, Tty: tty });
        assert.equal(r.status, 200);
        return tty ? r.body.toString() : demuxText(r.body).stdout;
      });
      assert.equal(moat, docker, `exec, Tty ${tty}`);
      assert.match(moat, tty ? /^PATH=\/bin:\/usr\/bin\r\nTERM=xterm\r\nC=exec\r\nA=own\r\nB=img\r\nD=exec\r\n/ : /^PATH=\/bin:\/usr\/bin\nC=exec\nA=own\nB=img\nD=exec\n/);
    }
    await onBoth((_socket, run) => run(['rm', '-f', 'env-x', 'env-c', 'env-t']));
  });
});
