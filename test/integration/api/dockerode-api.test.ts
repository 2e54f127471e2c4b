// dockerode 5 against a real moatd, unchanged: unversioned paths, old-style 200 attach,
// hijacked attach and exec, buffered logs, stats, images, volumes and events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { parseFrames } from '../../../src/api/stream.js';

function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function demux(docker: Docker, stream: Readable): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o = collect(out);
  const e = collect(err);
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      out.end();
      err.end();
      void Promise.all([o, e]).then(([a, b]) => resolve({ stdout: a.toString(), stderr: b.toString() }));
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', reject);
  });
}

async function httpError(p: Promise<unknown>): Promise<{ statusCode: number; message: string; json: { message?: string } | null }> {
  try {
    await p;
  } catch (err) {
    return err as { statusCode: number; message: string; json: { message?: string } | null };
  }
  throw new Error('expected an HTTP error');
}

test('dockerode drives moatd unchanged', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const docker = new Docker({ socketPath: d.socket });

  await t.test('ping, version, info', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const v = await docker.version();
    assert.equal(v.ApiVersion, '1.47');
    const info = (await docker.info()) as { OSType: string };
    assert.equal(info.OSType, 'linux');
    const pinned = new Docker({ socketPath: d.socket, version: 'v1.41' });
    assert.equal((await pinned.version()).ApiVersion, '1.47', 'a version prefix works too');
  });

  await t.test('run(): Tty by default, old-style 200 attach, wait after start', async () => {
    const out = new PassThrough();
    const got = collect(out);
    const [data, container] = (await docker.run('busybox', ['sh', '-c', 'echo hi; exit 3'], out)) as [{ StatusCode: number }, Docker.Container];
    out.end();
    assert.equal(data.StatusCode, 3);
    assert.equal((await got).toString(), 'hi\r\n', 'raw TTY output');
    await container.remove();
  });

  await t.test('createContainer + hijacked attach with stdin and half-close', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'cat; echo err >&2'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, name: 'dk-attach' } as Docker.ContainerCreateOptions & { name: string });
    const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as NodeJS.ReadWriteStream & Readable;
    const result = demux(docker, stream);
    await c.start();
    (stream as unknown as { end: (d: string) => void }).end('from-dockerode\n');
    const { stdout, stderr } = await result;
    assert.equal(stdout, 'from-dockerode\n');
    assert.equal(stderr, 'err\n');
    assert.equal((await c.wait()).StatusCode, 0);
    const info = await c.inspect();
    assert.equal(info.Name, '/dk-attach', 'name taken from the query');
    assert.equal(info.State.Status, 'exited');
  });

  await t.test('logs() without follow is a buffer with frame headers', async () => {
    const c = docker.getContainer('dk-attach');
    const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const { frames } = parseFrames(Buffer.from(buf));
    assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'from-dockerode\n'], [2, 'err\n']]);
  });

  await t.test('304 and 409 become dockerode errors with the status', async () => {
    const c = docker.getContainer('dk-attach');
    const stop = await httpError(c.stop());
    assert.equal(stop.statusCode, 304);
    const kill = await httpError(c.kill());
    assert.equal(kill.statusCode, 409);
    assert.match(kill.json?.message ?? '', /is not running/);
    const missing = await httpError(docker.getContainer('nosuch').inspect());
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json?.message, 'No such container: nosuch');
  });

  await t.test('exec: hijacked start, inspect exit code; detached start', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '100'], name: 'dk-exec' } as Docker.ContainerCreateOptions & { name: string });
    await c.start();
    const exec = await c.exec({ Cmd: ['sh', '-c', 'echo e-out; echo e-err >&2; exit 7'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const { stdout, stderr } = await demux(docker, stream as unknown as Readable);
    assert.equal(stdout, 'e-out\n');
    assert.equal(stderr, 'e-err\n');
    const ins = await exec.inspect();
    assert.equal(ins.ExitCode, 7);
    assert.equal(ins.Running, false);
    const plain = await c.exec({ Cmd: ['echo', 'no-hijack'], AttachStdout: true, AttachStderr: true });
    const s2 = await plain.start({});
    assert.equal((await demux(docker, s2 as unknown as Readable)).stdout, 'no-hijack\n');
    const bg = await c.exec({ Cmd: ['sh', '-c', 'echo bg > /tmp/bg'] });
    await bg.start({ Detach: true });
    let out = '';
    for (let i = 0; i < 50 && out !== 'bg\n'; i++) {
      const cat = await c.exec({ Cmd: ['cat', '/tmp/bg'], AttachStdout: true, AttachStderr: true });
      out = (await demux(docker, (await cat.start({ hijack: true, stdin: false })) as unknown as Readable)).stdout;
    }
    assert.equal(out, 'bg\n');
  });

  await t.test('list with filters, stats, top, wait with a condition', async () => {
    const running = await docker.listContainers({ filters: { status: ['running'] } });
    assert.deepEqual(running.map((c) => c.Names[0]), ['/dk-exec']);
    const all = await docker.listContainers({ all: true });
    assert.equal(all.length, 2);
    const exited = await docker.listContainers({ all: true, filters: { name: ['dk-attach'], status: ['exited'] } });
    assert.equal(exited.length, 1);
    const c = docker.getContainer('dk-exec');
    const stats = (await c.stats({ stream: false })) as { precpu_stats: { cpu_usage: { total_usage: number } }; preread: string; pids_stats: { current: number }; name: string };
    assert.equal(stats.name, '/dk-exec');
    assert.notEqual(stats.preread, '0001-01-01T00:00:00Z', 'a real earlier sample');
    assert.equal(stats.pids_stats.current, 1);
    const top = (await c.top()) as { Processes: string[][] };
    assert.ok(top.Processes.some((p) => p.join(' ').includes('sleep 100')));
    const waiting = c.wait({ condition: 'next-exit' });
    // sleep is pid 1 of its namespace: TERM without a handler is ignored, KILL is not.
    await c.kill({ signal: 'KILL' });
    assert.equal((await waiting).StatusCode, 137);
    await c.remove({ force: true });
  });

  await t.test('images: import, tag, inspect, remove; a pull from unreachable Docker Hub fails clearly', async () => {
    const dir = mkdtempSync('/tmp/mt-dko-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'r/bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(dir, 'r/bin/busybox'));
    symlinkSync('busybox', join(dir, 'r/bin/sh'));
    execFileSync('tar', ['-C', join(dir, 'r'), '-cf', join(dir, 'r.tar'), '.']);
    const stream = await docker.importImage(createReadStream(join(dir, 'r.tar')), { repo: 'dko', tag: 'v1' });
    const progress = (await collect(stream as unknown as Readable)).toString();
    assert.match(progress, /"status":"sha256:[0-9a-f]{64}"/);
    const img = docker.getImage('dko:v1');
    const info = await img.inspect();
    assert.deepEqual(info.RepoTags, ['dko:v1']);
    await img.tag({ repo: 'dko', tag: 'v2' });
    const listed = await docker.listImages({ filters: { reference: ['dko'] } });
    assert.deepEqual(listed.flatMap((i) => i.RepoTags ?? []).sort(), ['dko:v1', 'dko:v2']);
    const removed = (await docker.getImage('dko:v2').remove()) as Array<{ Untagged?: string }>;
    assert.deepEqual(removed, [{ Untagged: 'dko:v2' }]);
    const pull = await httpError(docker.pull('nosuchimage:1.0'));
    assert.ok(pull.statusCode >= 400);
    assert.match(pull.json?.message ?? pull.message, /registry docker\.io is blocked by the daemon.s configuration/);
  });

  await t.test('volumes and events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await docker.createVolume({ Name: 'dkvol', Labels: { a: 'b' } });
    const vols = (await docker.listVolumes()) as { Volumes: Array<{ Name: string; Labels: Record<string, string> }> };
    assert.deepEqual(vols.Volumes.map((v) => [v.Name, v.Labels]), [['dkvol', { a: 'b' }]]);
    assert.equal((await docker.getVolume('dkvol').inspect()).Mountpoint, join(d.dataRoot, 'volumes/dkvol/_data'));
    await docker.getVolume('dkvol').remove();
    const gone = await httpError(docker.getVolume('dkvol').inspect());
    assert.equal(gone.statusCode, 404);
    const events = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['volume'] } });
    const lines = (await collect(events as unknown as Readable)).toString().trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string } });
    assert.deepEqual(lines.map((e) => `${e.Action} ${e.Actor.ID}`), ['create dkvol', 'destroy dkvol']);
  });
});
