// The engine's lifecycle on fakes of its seams (test/helpers/fake-runtime.ts): no root, no
// runc, no conmon, no mounts, a few seconds. The real stack is tested by
// test/integration/kernel (lifecycle, live-restore, cleanup) and test/faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { runtimeFailure } from '../runtime/index.js';
import { rig, type Rig } from '../../test/helpers/engine-rig.js';
import type { ContainerRecord } from './types.js';
import { ContainerStore } from './store.js';

const run = (name: string, hostConfig: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({ name, config: { Image: 'busybox', Cmd: ['sleep', '100'], ...config }, hostConfig });

const actions = (r: Rig, id: string): string[] => r.events.filter((e) => e.Actor.ID === id).map((e) => e.Action);

const onDisk = (r: Rig, id: string): ContainerRecord => JSON.parse(readFileSync(join(r.dataRoot, 'containers', id, 'container.json'), 'utf8')) as ContainerRecord;

const isStatus = (status: number) => (err: unknown): boolean => err instanceof EngineError && err.status === status;

/** Resolves when `pred` holds (polled), or fails after `ms`. */
async function until(pred: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('create → start → exit → --rm removal', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('rm-me', { AutoRemove: true }, { Cmd: ['sh', '-c', 'exit 3'] }));
  const c = r.engine.get(Id);
  assert.equal(c.State.Status, 'created');
  assert.ok(c.Plan !== undefined, 'create stores its plan');
  assert.deepEqual(onDisk(r, Id).Plan?.capabilities, c.Security?.Capabilities, 'the plan and inspect agree');
  const removed = r.engine.wait(Id, 'removed');
  await r.engine.start(Id);
  assert.equal(r.engine.get(Id).State.Status, 'running');
  assert.equal(onDisk(r, Id).State.Status, 'running', 'running is on disk before start returns');
  const spec = r.runtime.containers.get(Id)!.spec;
  assert.deepEqual(spec.process.args, ['sh', '-c', 'exit 3']);
  assert.equal(spec.linux.resources?.pids?.limit, 2048, 'the spec comes from the plan');
  assert.ok(r.host.mounted.has(join(r.dataRoot, 'containers', Id, 'rootfs')), 'the rootfs is mounted while it runs');
  r.runtime.exit(Id, 3);
  assert.deepEqual(await removed, { StatusCode: 3, Error: null });
  assert.equal(r.engine.find(Id), undefined);
  assert.equal(existsSync(join(r.dataRoot, 'containers', Id)), false, 'the bundle dir is gone');
  assert.equal(r.host.mounted.size, 0, 'nothing stays mounted');
  assert.deepEqual(actions(r, Id), ['create', 'start', 'die', 'destroy']);
  const calls = r.runtime.callsOf(Id);
  assert.deepEqual(calls.slice(0, 2), ['create', 'start']);
  assert.match(calls[2] ?? '', /^watchMonitor \d+$/, 'its monitor is watched');
  assert.deepEqual(calls.slice(3), ['delete "force"', 'forget'], 'deleted at the exit, forgotten at the removal');
  assert.equal(r.runtime.exitFiles.has(Id), false, 'the exit file is cleared once the record is written');
  await r.close();
});

test('--rm: the removal\'s record carries the exit (no exit record of its own); the exit file stays until the removal clears it', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('rm-one-write', { AutoRemove: true }));
  await r.engine.start(Id);
  // What is durable at each unmount of the rootfs: at the exit (before any record) and in the removal (after its record).
  const seen: Array<{ status: string; exitCode: number; exitFile: boolean }> = [];
  const unmount = r.host.rootfs.unmount;
  r.host.rootfs.unmount = async (merged) => {
    const rec = onDisk(r, Id);
    seen.push({ status: rec.State.Status, exitCode: rec.State.ExitCode, exitFile: r.runtime.exitFiles.has(Id) });
    await unmount(merged);
  };
  const removed = r.engine.wait(Id, 'removed');
  r.runtime.exit(Id, 3);
  assert.deepEqual(await removed, { StatusCode: 3, Error: null });
  assert.deepEqual(seen, [
    { status: 'running', exitCode: 0, exitFile: true },
    { status: 'removing', exitCode: 3, exitFile: true },
  ], 'no exited record in between: the exit file is the exit\'s durable trace until the removing record holds it');
  assert.equal(r.runtime.exitFiles.has(Id), false, 'the removal clears the exit file');
  assert.deepEqual(actions(r, Id), ['create', 'start', 'die', 'destroy']);
  await r.close();
});

test('--rm: when the removal\'s record cannot be written, the exit is recorded on its own (retried), exit file kept until then', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('rm-unwritable', { AutoRemove: true }));
  await r.engine.start(Id);
  // A directory where the record goes: every write of it fails (EISDIR), which is no full disk.
  const recordPath = join(r.dataRoot, 'containers', Id, 'container.json');
  const kept = readFileSync(recordPath, 'utf8');
  rmSync(recordPath);
  mkdirSync(recordPath);
  const stopped = r.engine.wait(Id, 'not-running');
  r.runtime.exit(Id, 3);
  assert.deepEqual(await stopped, { StatusCode: 3, Error: null });
  await until(() => r.engine.find(Id)?.State.Status === 'exited', 'the exit in memory');
  // The removal fails at once (in-process fakes); give it and one retry of the exit's record time to fail too.
  await new Promise((res) => setTimeout(res, 1200));
  assert.equal(r.engine.find(Id)?.State.Status, 'exited', 'not removed: its removal could not be recorded');
  assert.equal(r.engine.get(Id).State.ExitCode, 3, 'memory has the exit');
  assert.equal(r.runtime.exitFiles.has(Id), true, 'the exit file stays while no record holds the exit');
  rmSync(recordPath, { recursive: true });
  writeFileSync(recordPath, kept);
  await until(() => !r.runtime.exitFiles.has(Id), 'the retried exit record', 5000);
  assert.equal(onDisk(r, Id).State.Status, 'exited');
  assert.equal(onDisk(r, Id).State.ExitCode, 3);
  await r.close();
});

test('--rm: docker restart keeps the container (stopped and started again, as dockerd 20.10 does); a later stop removes it', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('rm-restart', { AutoRemove: true }));
  await r.engine.start(Id);
  await r.engine.restart(Id, { timeout: 1 });
  assert.equal(r.engine.get(Id).State.Status, 'running', 'running again after the restart');
  assert.equal(onDisk(r, Id).State.Status, 'running');
  assert.ok(existsSync(join(r.dataRoot, 'containers', Id)), 'its directory is still there');
  assert.deepEqual(actions(r, Id).filter((a) => a !== 'attach'), ['create', 'start', 'kill', 'die', 'stop', 'start', 'restart']);
  const removed = r.engine.wait(Id, 'removed');
  await r.engine.stop(Id, { timeout: 1 });
  await removed;
  assert.equal(r.engine.find(Id), undefined, 'a stop (no restart) still auto-removes it');
  await r.close();
});

test('a failed start leaves nothing running, mounted or staged, and records the exit code Docker would', async (t) => {
  await t.test('runc create fails: 127, still created', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('nope'));
    let ended = false;
    const session = await r.engine.attach(Id, { stdin: false, stdout: true, stderr: true }, { output: () => undefined, end: () => (ended = true) });
    r.runtime.failNext('create', runtimeFailure('exec: "nope": executable file not found in $PATH'));
    await assert.rejects(r.engine.start(Id), (err: unknown) => err instanceof EngineError && err.code === 'ERR_RUNTIME_NOT_FOUND');
    assert.ok(session.ended && ended, 'a session waiting for the start ends with it');
    const c = r.engine.get(Id);
    assert.equal(c.State.Status, 'created');
    assert.equal(c.State.ExitCode, 127);
    assert.match(c.State.Error, /executable file not found/);
    assert.deepEqual(onDisk(r, Id).State, c.State, 'memory is what the disk says');
    assert.equal(r.runtime.exists(Id), false);
    assert.equal(r.host.mounted.size, 0);
    assert.ok(r.host.calls.some((x) => x.verb === 'unstage'), 'bind staging undone');
    assert.equal(r.runtime.exitFiles.has(Id), false);
    assert.equal(await r.engine.wait(Id, 'not-running').then((w) => w.StatusCode), 127);
    await r.close();
  });
  await t.test('runc start fails after create: the created container is deleted', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('late'));
    r.runtime.failNext('start', new EngineError('internal', 'ERR_RUNTIME_FAILED', 'runc start failed: boom'));
    await assert.rejects(r.engine.start(Id), /boom/);
    assert.equal(r.engine.get(Id).State.Status, 'created');
    assert.equal(r.engine.get(Id).State.ExitCode, 128);
    assert.equal(r.runtime.exists(Id), false, 'the runtime forgot it');
    assert.ok(r.runtime.callsOf(Id).includes('delete "force"'));
    assert.equal(r.host.mounted.size, 0);
    await r.close();
  });
  await t.test('a start that fails before the runtime create ends the monitor waiting for its spec', async () => {
    const r = await rig();
    await r.engine.create(run('target'));
    const { Id } = await r.engine.create(run('linker', { Links: ['target:alias'] }));
    await assert.rejects(r.engine.start(Id), /Cannot link to a non running container/);
    assert.deepEqual([...r.runtime.waitingMonitors], [], 'no monitor left waiting');
    assert.deepEqual(r.runtime.callsOf(Id).filter((v) => v === 'create'), [], 'nothing created');
    assert.equal(r.engine.get(Id).State.Status, 'created');
    assert.equal(r.host.mounted.size, 0);
    await r.engine.start((await r.engine.create(run('fine'))).Id);
    assert.deepEqual([...r.runtime.waitingMonitors], [], 'a start lets its monitor create');
    await r.close();
  });
  await t.test('with --rm the container goes', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('rm-fail', { AutoRemove: true }));
    r.runtime.failNext('create', runtimeFailure('open /nope: permission denied'));
    await assert.rejects(r.engine.start(Id), isStatus(400));
    assert.equal(r.engine.find(Id), undefined);
    assert.equal(existsSync(join(r.dataRoot, 'containers', Id)), false);
    assert.deepEqual(actions(r, Id), ['create', 'destroy']);
    await r.close();
  });
});

test('a bad create is refused before anything is made', async () => {
  const r = await rig();
  await assert.rejects(r.engine.create(run('bad-oom', { OomScoreAdj: 5000 })), /range for oom score adj/);
  await assert.rejects(r.engine.create(run('bad-host', { ExtraHosts: ['bad name:1.2.3.4'] })), /--add-host/);
  await assert.rejects(r.engine.create(run('bad-mount', { Binds: ['/a:rel'] })), /mount path must be absolute/);
  await assert.rejects(r.engine.create({ name: 'no-image', config: { Image: 'nosuch' }, hostConfig: {} }), isStatus(404));
  assert.deepEqual(r.engine.list(), []);
  assert.deepEqual(readdir(join(r.dataRoot, 'containers')), [], 'no directory was made');
  await r.close();
});

function readdir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('the /etc files come from the network builders: loopback resolvers dropped, --dns-search and --add-host written', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('etc', { ExtraHosts: ['db:10.0.0.5'], DnsSearch: ['example.test'] }, { Hostname: 'web' }));
  const dir = join(r.dataRoot, 'containers', Id);
  assert.equal(readFileSync(join(dir, 'hostname'), 'utf8'), 'web\n');
  const hosts = readFileSync(join(dir, 'hosts'), 'utf8');
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(hosts, /^10\.0\.0\.5\tdb$/m);
  assert.match(hosts, /^127\.0\.0\.1\tweb\n$/m);
  assert.equal(readFileSync(join(dir, 'resolv.conf'), 'utf8'), 'search example.test\nnameserver 192.0.2.53\n');
  const paths = r.engine.pathsOf(r.engine.get(Id));
  assert.equal(paths.HostsPath, join(dir, 'hosts'));
  assert.equal(paths.MergedDir, join(dir, 'rootfs'));
  await r.close();
});

test('waiters: not-running, next-exit and removed', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('ww'));
  assert.deepEqual(await r.engine.wait(Id, 'not-running'), { StatusCode: 0, Error: null }, 'a created container is not running');
  let nextExit: number | undefined;
  void r.engine.wait(Id, 'next-exit').then((w) => (nextExit = w.StatusCode));
  await r.engine.start(Id);
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(nextExit, undefined, 'next-exit waits for an exit, not for the state it was in');
  const notRunning = r.engine.wait(Id, 'not-running');
  r.runtime.exit(Id, 5);
  assert.deepEqual(await notRunning, { StatusCode: 5, Error: null });
  await until(() => nextExit === 5, 'next-exit');
  const removed = r.engine.wait(Id, 'removed');
  let gone = false;
  void removed.then(() => (gone = true));
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(gone, false, 'removed waits for the removal');
  await r.engine.remove(Id, { force: false });
  assert.deepEqual(await removed, { StatusCode: 5, Error: null });
  await r.close();
});

test('stop: the stop signal, then SIGKILL after the timeout', async (t) => {
  /** A rig with a started container `name` whose process ignores every signal but SIGKILL. */
  const termIgnoring = async (name: string): Promise<{ r: Rig; Id: string }> => {
    const r = await rig();
    r.runtime.signals(name, (sig) => (sig === 9 ? 137 : 'ignore'));
    const { Id } = await r.engine.create(run(name));
    await r.engine.start(Id);
    return { r, Id };
  };
  const stopSignalSent = (r: Rig, Id: string): Promise<void> => until(() => r.runtime.callsOf(Id).includes('kill 15'), 'the stop signal sent');
  await t.test('a process that ignores SIGTERM is killed after 1 s', async () => {
    const { r, Id } = await termIgnoring('stubborn');
    const t0 = Date.now();
    await r.engine.stop(Id, { timeout: 1 });
    const took = Date.now() - t0;
    assert.ok(took >= 1000 && took < 5000, `stopped after ${took} ms`);
    assert.deepEqual(r.runtime.callsOf(Id).filter((x) => x.startsWith('kill')), ['kill 15', 'kill "9 --all"']);
    assert.equal(r.engine.get(Id).State.Status, 'exited');
    assert.equal(r.engine.get(Id).State.ExitCode, 137);
    await assert.rejects(r.engine.stop(Id), (err: unknown) => err instanceof EngineError && err.kind === 'not-modified');
    await r.close();
  });
  await t.test('a process that exits on its StopSignal gets no SIGKILL', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('polite', {}, { StopSignal: 'SIGUSR1' }));
    await r.engine.start(Id);
    await r.engine.stop(Id);
    assert.deepEqual(r.runtime.callsOf(Id).filter((x) => x.startsWith('kill')), ['kill 10']);
    assert.equal(r.engine.get(Id).State.ExitCode, 138);
    await r.close();
  });
  await t.test('a stop waiting out its timeout holds no lock: rm -f ends the container at once, and the stop returns', async () => {
    const { r, Id } = await termIgnoring('slow');
    const stopping = r.engine.stop(Id, { timeout: 30 });
    await stopSignalSent(r, Id);
    const t0 = Date.now();
    await r.engine.remove(Id, { force: true });
    assert.ok(Date.now() - t0 < 5000, `rm -f took ${Date.now() - t0} ms`);
    await stopping;
    assert.equal(r.engine.find(Id), undefined);
    await r.close();
  });
  await t.test('pause and update get through a stop waiting out its timeout; its SIGKILL follows', async () => {
    const { r, Id } = await termIgnoring('frozen');
    const stopping = r.engine.stop(Id, { timeout: 1 });
    await stopSignalSent(r, Id);
    await r.engine.pause(Id, true);
    await r.engine.update(Id, { PidsLimit: 9 });
    assert.equal(r.engine.get(Id).State.Status, 'paused');
    await stopping;
    const calls = r.runtime.callsOf(Id).filter((x) => /^(kill|pause|resume)/.test(x));
    assert.deepEqual(calls, ['kill 15', 'pause', 'kill "9 --all"']);
    assert.deepEqual([r.engine.get(Id).State.Status, r.engine.get(Id).State.ExitCode], ['exited', 137]);
    await r.close();
  });
  await t.test('a stored StopSignal that does not parse (an image\'s) falls back to SIGTERM: stop and rm -f work; a bad signal asked for is a 400', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('badsig'));
    await r.engine.start(Id);
    r.engine.get(Id).Config.StopSignal = 'BOGUS';
    await assert.rejects(r.engine.stop(Id, { signal: 'NOPE' }), isStatus(400));
    await r.engine.stop(Id);
    assert.deepEqual(r.runtime.callsOf(Id).filter((x) => x.startsWith('kill')), ['kill 15']);
    await r.engine.start(Id);
    await r.engine.remove(Id, { force: true });
    assert.equal(r.engine.find(Id), undefined);
    await r.close();
  });
  await t.test('a restart waiting out its stop timeout holds no lock either: rm -f gets through, the restart then cannot start it', async () => {
    const { r, Id } = await termIgnoring('slowrestart');
    const restarting = r.engine.restart(Id, { timeout: 30 });
    restarting.catch(() => undefined);
    await stopSignalSent(r, Id);
    const t0 = Date.now();
    await r.engine.remove(Id, { force: true });
    assert.ok(Date.now() - t0 < 5000, `rm -f took ${Date.now() - t0} ms`);
    // Docker's answers: the removal still running (409 "marked for removal") or done (404).
    await assert.rejects(restarting, (e: unknown) => e instanceof EngineError && (e.status === 409 || e.status === 404));
    assert.equal(r.engine.find(Id), undefined);
    await r.close();
  });
  await t.test('stopping a paused container thaws it and the record says so while the stop waits: an unpause then is a 409, not a runtime error', async () => {
    const { r, Id } = await termIgnoring('pausedstop');
    await r.engine.pause(Id, true);
    const stopping = r.engine.stop(Id, { timeout: 1 });
    await stopSignalSent(r, Id);
    assert.equal(r.engine.get(Id).State.Status, 'running');
    await assert.rejects(r.engine.pause(Id, false), (e: unknown) => e instanceof EngineError && e.status === 409 && /is not paused/.test(e.message));
    await stopping;
    assert.deepEqual(actions(r, Id).filter((a) => a === 'pause' || a === 'unpause'), ['pause', 'unpause']);
    await r.close();
  });
  await t.test('timeout 0 kills at once; rm -f of a running container stops it first', async () => {
    const r = await rig();
    const { Id } = await r.engine.create(run('rmf'));
    await r.engine.start(Id);
    await assert.rejects(r.engine.remove(Id, { force: false }), isStatus(409));
    await r.engine.remove(Id, { force: true });
    assert.deepEqual(r.runtime.callsOf(Id).filter((x) => x.startsWith('kill')), ['kill "9 --all"']);
    assert.equal(r.engine.find(Id), undefined);
    await r.close();
  });
});

test('live restore: records reconciled with the runtime after a restart (running, exited meanwhile, vanished, unfinished)', async () => {
  const first = await rig();
  const ids: Record<string, string> = {};
  for (const name of ['stays', 'exits', 'vanishes', 'orphan']) {
    ids[name] = (await first.engine.create(run(name))).Id;
    await first.engine.start(ids[name]!);
  }
  const { Id: interrupted } = await first.engine.create(run('interrupted'));
  await first.close();
  // While moatd is down: one exits (its exit file is written), one vanishes with its
  // monitor, one loses its monitor but keeps running, a start is interrupted after the
  // runtime created the container, and a create is interrupted before its record.
  first.runtime.exit(ids['exits']!, 7);
  first.runtime.vanish(ids['vanishes']!);
  first.runtime.killMonitor(ids['orphan']!);
  await first.runtime.beginCreate({ id: interrupted, name: 'interrupted', bundle: join(first.dataRoot, 'containers', interrupted), log: { driver: 'none', path: '' }, stdin: false, terminal: false, leaveStdinOpen: false }).create(first.runtime.containers.get(ids['stays']!)!.spec);
  const unfinished = 'f'.repeat(64);
  mkdirSync(join(first.dataRoot, 'containers', unfinished, 'rootfs'), { recursive: true });

  const second = await rig({ runtime: first.runtime, dataRoot: first.dataRoot });
  const e = second.engine;
  assert.equal(e.get(ids['stays']!).State.Status, 'running', 'a container that kept running is running');
  assert.equal(e.get(ids['stays']!).State.Pid, first.runtime.containers.get(ids['stays']!)!.pid);
  assert.deepEqual([e.get(ids['exits']!).State.Status, e.get(ids['exits']!).State.ExitCode], ['exited', 7], 'the exit code written while moatd was down');
  assert.equal(first.runtime.exitFiles.has(ids['exits']!), false, 'its exit file is gone once the record says so');
  assert.deepEqual([e.get(ids['vanishes']!).State.Status, e.get(ids['vanishes']!).State.ExitCode], ['exited', 255], 'vanished without an exit code: 255');
  assert.deepEqual([e.get(ids['orphan']!).State.Status, e.get(ids['orphan']!).State.ExitCode], ['exited', 137], 'a container whose monitor died is stopped: 137');
  assert.ok(first.runtime.callsOf(ids['orphan']!).includes('kill "9 --all"'));
  assert.equal(e.get(interrupted).State.Status, 'created');
  assert.equal(first.runtime.exists(interrupted), false, 'the interrupted start is undone');
  assert.equal(existsSync(join(first.dataRoot, 'containers', unfinished)), false, 'the unfinished create is removed');
  // The one that kept running is watched again: its exit is seen.
  first.runtime.exit(ids['stays']!, 0);
  await until(() => e.get(ids['stays']!).State.Status === 'exited', 'the restored container exit');
  await second.close();
});

test('a record without a stored plan (from before plans were kept) starts with the plan made from its HostConfig', async () => {
  const first = await rig();
  const { Id } = await first.engine.create(run('old', { PidsLimit: 50, Tmpfs: { '/run': 'size=1m' } }));
  await first.close();
  const path = join(first.dataRoot, 'containers', Id, 'container.json');
  const rec = JSON.parse(readFileSync(path, 'utf8')) as ContainerRecord;
  delete rec.Plan;
  writeFileSync(path, JSON.stringify(rec));
  const second = await rig({ runtime: first.runtime, dataRoot: first.dataRoot });
  assert.equal(second.engine.get(Id).Plan, undefined);
  await second.engine.start(Id);
  const spec = first.runtime.containers.get(Id)!.spec;
  assert.equal(spec.linux.resources?.pids?.limit, 50);
  assert.ok(spec.mounts.some((m) => m.destination === '/run' && m.type === 'tmpfs'));
  await second.close();
});

test('exec: exit codes, output, the process spec from the plan, failures', async () => {
  const r = await rig();
  r.runtime.execBehaviour = (o) => (o.process.args.includes('fail') ? { code: 3, stderr: 'no\n' } : { code: 0, stdout: 'hi\n' });
  const { Id } = await r.engine.create(run('ex', { CapDrop: ['ALL'], CapAdd: ['CHOWN'], Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }] }, { Env: ['A=1'] }));
  await assert.rejects(Promise.resolve().then(() => r.engine.execCreate(Id, { Cmd: ['true'] })), isStatus(409), 'no exec in a stopped container');
  await r.engine.start(Id);
  const out: string[] = [];
  const sink = { output: (s: 1 | 2, d: Buffer) => void out.push(`${s}:${d.toString()}`), end: () => undefined };
  const ok = r.engine.execCreate(Id, { Cmd: ['echo', 'hi'], Env: ['B=2'], Tty: true, AttachStdout: true, AttachStderr: true });
  await r.engine.execStart(ok, sink);
  assert.equal(r.engine.getExec(ok).ExitCode, 0);
  assert.equal(r.engine.getExec(ok).Running, false);
  assert.deepEqual(out, ['1:hi\n']);
  const proc = r.runtime.execs.get(ok)!.process;
  assert.deepEqual(proc.capabilities, { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] }, 'the container capabilities, from its plan');
  // Docker's order: the daemon's PATH, HOSTNAME and TERM, the container's Env over them, then the exec's.
  assert.deepEqual(proc.env, ['PATH=/bin', `HOSTNAME=${Id.slice(0, 12)}`, 'TERM=xterm', 'A=1', 'B=2']);
  const limits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }];
  assert.deepEqual(proc.rlimits, limits, "the container's ulimits, from its plan");
  assert.deepEqual(r.runtime.containers.get(Id)!.spec.process.rlimits, limits);
  assert.equal(proc.terminal, true);
  const bad = r.engine.execCreate(Id, { Cmd: ['sh', 'fail'] });
  out.length = 0;
  await r.engine.execStart(bad, sink);
  assert.equal(r.engine.getExec(bad).ExitCode, 3);
  assert.deepEqual(out, ['2:no\n']);
  await assert.rejects(r.engine.execStart(bad, sink), isStatus(409), 'an exec runs once');
  const detached = r.engine.execCreate(Id, { Cmd: ['sh', 'fail'] });
  await r.engine.execStart(detached, undefined);
  await until(() => r.engine.getExec(detached).ExitCode === 3, 'the detached exec exit');
  r.runtime.failNext('exec', runtimeFailure('exec: "nosuch": executable file not found in $PATH'));
  const missing = r.engine.execCreate(Id, { Cmd: ['nosuch'] });
  out.length = 0;
  await r.engine.execStart(missing, sink);
  assert.equal(r.engine.getExec(missing).ExitCode, 126);
  assert.match(out.join(''), /^1:OCI runtime exec failed: exec failed: exec: "nosuch"/);
  assert.deepEqual(r.engine.execIdsOf(Id).length, 4);
  await r.engine.remove(Id, { force: true });
  assert.throws(() => r.engine.getExec(ok), isStatus(404), 'exec sessions go with their container');
  await r.close();
});

test('names under concurrency: one create or rename wins a name, the others get 409', async () => {
  const r = await rig();
  const creates = await Promise.allSettled([0, 1, 2].map(() => r.engine.create(run('same'))));
  assert.equal(creates.filter((x) => x.status === 'fulfilled').length, 1);
  for (const x of creates) if (x.status === 'rejected') assert.ok(isStatus(409)(x.reason), String(x.reason));
  const p = (await r.engine.create(run('pp'))).Id;
  const q = (await r.engine.create(run('qq'))).Id;
  const renames = await Promise.allSettled([r.engine.rename(p, 'zz'), r.engine.rename(q, 'zz')]);
  assert.equal(renames.filter((x) => x.status === 'fulfilled').length, 1);
  const mixed = await Promise.allSettled([r.engine.rename(p, 'ww'), r.engine.create(run('ww'))]);
  assert.equal(mixed.filter((x) => x.status === 'fulfilled').length, 1, 'a rename and a create for one name: one wins');
  const names = r.engine.list().map((c) => c.Name);
  assert.equal(new Set(names).size, names.length, `names are unique: ${names.join(' ')}`);
  for (const c of r.engine.list()) assert.equal(onDisk(r, c.Id).Name, c.Name, 'memory is what the disk says');
  await assert.rejects(r.engine.rename(q, 'bad name'), isStatus(400));
  await assert.rejects(r.engine.create(run('-bad')), isStatus(400));
  await r.close();
});

test('conmon death: a running container whose monitor dies is stopped (137); one that died with it is 255', async () => {
  const r = await rig();
  const a = (await r.engine.create(run('orphaned'))).Id;
  const b = (await r.engine.create(run('gone-too'))).Id;
  await r.engine.start(a);
  await r.engine.start(b);
  r.runtime.killMonitor(a);
  await until(() => r.engine.get(a).State.Status === 'exited', 'the orphan stopped');
  assert.equal(r.engine.get(a).State.ExitCode, 137);
  assert.ok(r.runtime.callsOf(a).includes('kill "9 --all"'));
  r.runtime.killMonitor(b, { withProcess: true });
  await until(() => r.engine.get(b).State.Status === 'exited', 'the vanished one recorded');
  assert.equal(r.engine.get(b).State.ExitCode, 255);
  assert.deepEqual(actions(r, a).slice(-1), ['die']);
  await r.close();
});

test('pause, kill, restart, top and attach go through the runtime', async () => {
  const r = await rig();
  const { Id } = await r.engine.create(run('verbs', {}, { OpenStdin: true, AttachStdout: true }));
  // An attach before start sees the first output.
  const out: string[] = [];
  const session = await r.engine.attach(Id, { stdin: true, stdout: true, stderr: true }, { output: (_s, d) => void out.push(d.toString()), end: () => undefined });
  session.writeStdin(Buffer.from('early\n'));
  await r.engine.start(Id);
  const [stream] = r.runtime.streamsOf(Id);
  assert.ok(stream, 'the pending session connected at start');
  stream.emit(1, 'hello\n');
  assert.deepEqual(out, ['hello\n']);
  assert.deepEqual(stream.received.map(String), ['early\n'], 'stdin buffered before start is delivered');
  await r.engine.pause(Id, true);
  assert.equal(onDisk(r, Id).State.Status, 'paused');
  await assert.rejects(r.engine.pause(Id, true), isStatus(409));
  await r.engine.pause(Id, false);
  const top = await r.engine.top(Id);
  assert.deepEqual(top.Processes.map((p) => p[1]), [String(r.engine.get(Id).State.Pid)]);
  await r.engine.restart(Id, { timeout: 1 });
  assert.equal(r.engine.get(Id).State.Status, 'running');
  assert.equal(session.ended, true, 'the session of the first run ended with it');
  await r.engine.kill(Id, 'KILL');
  assert.equal(r.engine.get(Id).State.ExitCode, 137);
  await assert.rejects(r.engine.kill(Id), isStatus(409));
  // restart stops as Docker does: the stop signal (a kill event), die, stop, then start and restart.
  assert.deepEqual(actions(r, Id).filter((a) => a !== 'attach'), ['create', 'start', 'pause', 'unpause', 'kill', 'die', 'stop', 'start', 'restart', 'kill', 'die']);
  await r.close();
});

test('the daemon\'s cgroup parent goes an idle period after the last removal; a start meanwhile keeps it, one during its removal waits for it', async () => {
  const r = await rig({ cgroupParentIdleMs: 100 });
  // The daemon's parent's rmdirs hang until released; CgroupParent levels do not.
  let release: () => void = () => undefined;
  let parentGone = new Promise<void>((res) => (release = res));
  const removedDirs: string[] = [];
  r.host.cgroups.removeParents = async (dirs) => {
    if (dirs.includes('moat-unit')) await parentGone;
    removedDirs.push(...dirs);
  };
  const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
  const runOnce = async (name: string): Promise<void> => {
    const { Id } = await r.engine.create(run(name, { AutoRemove: true, CgroupParent: 'lvl' }, { Cmd: ['true'] }));
    const waited = r.engine.wait(Id, 'removed');
    await r.engine.start(Id);
    r.runtime.exit(Id, 0);
    assert.deepEqual(await waited, { StatusCode: 0, Error: null });
  };
  await runOnce('first');
  assert.deepEqual(removedDirs, ['moat-unit/lvl'], 'the CgroupParent level goes with the container, the daemon\'s parent not yet');
  // A run within the idle period finds the parent there and keeps it.
  await sleep(30);
  await runOnce('second');
  await sleep(80);
  assert.deepEqual(removedDirs, ['moat-unit/lvl', 'moat-unit/lvl'], '130 ms after the first removal, 80 after the second: the parent stays');
  // After the idle period its removal starts; a start that reaches its runtime create waits for it.
  await sleep(60);
  const next = await r.engine.create(run('next'));
  let started = false;
  const starting = r.engine.start(next.Id).then(() => (started = true));
  await sleep(50);
  assert.equal(started, false, 'the start waits for the parent removal');
  assert.deepEqual(r.runtime.callsOf(next.Id), [], 'no runtime create while runc\'s parent is being removed');
  release();
  await starting;
  assert.deepEqual(removedDirs, ['moat-unit/lvl', 'moat-unit/lvl', 'moat-unit']);
  assert.equal(r.runtime.callsOf(next.Id)[0], 'create');
  // While a container is live the parent stays; its removal schedules the parent's again.
  parentGone = Promise.resolve();
  await sleep(150);
  assert.equal(removedDirs.filter((d) => d === 'moat-unit').length, 1, 'a live container keeps the parent');
  await r.engine.remove(next.Id, { force: true });
  await sleep(150);
  assert.equal(removedDirs.filter((d) => d === 'moat-unit').length, 2, 'removed again after the last live container');
  await r.close();
});

test('moatd stopping removes a parent still in its idle period at once', async () => {
  const r = await rig({ cgroupParentIdleMs: 60_000 });
  const removedDirs: string[] = [];
  r.host.cgroups.removeParents = async (dirs) => {
    removedDirs.push(...dirs);
  };
  const { Id } = await r.engine.create(run('one', {}, { Cmd: ['true'] }));
  await r.engine.start(Id);
  await r.engine.remove(Id, { force: true });
  assert.deepEqual(removedDirs, [], 'within the idle period');
  await r.close();
  assert.deepEqual(removedDirs, ['moat-unit'], 'at close');
});

test('a create syncs its record and the root: the new container directory\'s entry is durable before the answer', async (t) => {
  const steps: string[] = [];
  const save = ContainerStore.prototype.save;
  const syncRoot = ContainerStore.prototype.syncRoot;
  t.mock.method(ContainerStore.prototype, 'save', function (this: ContainerStore, rec: ContainerRecord, o: { durable?: boolean } = {}) {
    return save.call(this, rec, o).then(() => void steps.push(`saved ${rec.State.Status}`));
  });
  t.mock.method(ContainerStore.prototype, 'syncRoot', function (this: ContainerStore) {
    return syncRoot.call(this).then(() => void steps.push('root synced'));
  });
  const r = await rig();
  const c = await r.engine.create(run('synced'));
  assert.deepEqual(steps.sort(), ['root synced', 'saved created'], 'both done when the create answers');
  await r.engine.remove(c.Id, { force: true });
  await r.close();
});

test('records: every write durable but the removal that follows a --rm container\'s exit (docker rm of a --rm container stays durable)', async (t) => {
  const writes: Array<{ status: string; durable: boolean }> = [];
  const save = ContainerStore.prototype.save;
  t.mock.method(ContainerStore.prototype, 'save', function (this: ContainerStore, rec: ContainerRecord, o: { durable?: boolean } = {}) {
    writes.push({ status: rec.State.Status, durable: o.durable !== false });
    return save.call(this, rec, o);
  });
  const r = await rig();
  const auto = await r.engine.create(run('auto', { AutoRemove: true }, { Cmd: ['true'] }));
  const removed = r.engine.wait(auto.Id, 'removed');
  await r.engine.start(auto.Id);
  r.runtime.exit(auto.Id, 0);
  await removed;
  assert.deepEqual(writes, [
    { status: 'created', durable: true },
    { status: 'running', durable: true },
    { status: 'removing', durable: false },
  ]);
  writes.length = 0;
  const byHand = await r.engine.create(run('by-hand', { AutoRemove: true }));
  await r.engine.remove(byHand.Id, { force: true });
  assert.deepEqual(writes, [
    { status: 'created', durable: true },
    { status: 'removing', durable: true },
  ]);
  await r.close();
});

test('a create, a start and an exec start the wait of a cgroup move before the runtime makes its process (phase J)', async () => {
  const r = await rig();
  const seen: string[][] = [];
  const host = r.host.cgroups;
  const prepay = host.prepayMove.bind(host);
  let id = '';
  host.prepayMove = () => {
    seen.push(r.runtime.callsOf(id));
    prepay();
  };
  const { Id } = await r.engine.create(run('prepay'));
  id = Id;
  assert.equal(seen.length, 1, 'one move at the create (a docker run starts it next)');
  await r.engine.start(Id);
  assert.equal(seen.length, 2, 'one move per start');
  assert.ok(!seen[1]!.includes('create'), `before the runtime's create (calls then: ${seen[1]!.join(', ')})`);
  assert.ok(r.runtime.callsOf(Id).includes('create'));
  const ex = r.engine.execCreate(Id, { Cmd: ['true'] });
  await r.engine.execStart(ex, undefined);
  await until(() => r.engine.getExec(ex).ExitCode === 0, 'the exec exit');
  assert.equal(seen.length, 3, 'one move per exec');
  assert.ok(!seen[2]!.some((c) => c.startsWith('exec')), `before the runtime's exec (calls then: ${seen[2]!.join(', ')})`);
  await r.close();
});
