// `rm` leaves nothing behind: the bundle dir, the overlay mount and the cgroups go; `--rm`
// containers remove themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { create, inspect, listAll, mountsContaining, run, waitExited, waitFor, waitLog } from '../../helpers/containers.js';

/** `<hierarchy>/<own cgroup>/<cgroupParent>[/<id>]` for every v1 hierarchy this process is in. */
function v1CgroupDirs(d: TestDaemon, id?: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, path] = line.split(':');
    if (ctrls === undefined || path === undefined || ctrls === '') continue;
    const name = ctrls.startsWith('name=') ? ctrls.slice(5) : ctrls;
    if (!existsSync(`/sys/fs/cgroup/${name}`)) continue;
    out.set(name, join('/sys/fs/cgroup', name, path, d.cgroupParent, ...(id ? [id] : [])));
  }
  return out;
}

function bundleOf(d: TestDaemon, id: string): string {
  return join(d.dataRoot, 'containers', id);
}

function assertGone(d: TestDaemon, id: string): void {
  assert.equal(existsSync(bundleOf(d, id)), false, 'bundle dir removed');
  assert.deepEqual(mountsContaining(id), [], 'no mount left');
  for (const [ctrl, dir] of v1CgroupDirs(d, id)) assert.equal(existsSync(dir), false, `${ctrl} cgroup ${dir} removed`);
}

test('rm removes the bundle, the overlay mount and the cgroups', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('a running container has its bundle, overlay rootfs and a cgroup in every v1 hierarchy', async () => {
    const id = await run(d, ['sh', '-c', 'echo ready; exec sleep 100']);
    await waitLog(d, id, 'ready');
    const pid = (await inspect(d, id)).State.Pid;
    assert.ok(existsSync(join(bundleOf(d, id), 'config.json')));
    const rootfs = join(bundleOf(d, id), 'rootfs');
    assert.deepEqual(mountsContaining(id), [rootfs], 'one overlay mount, at the bundle rootfs');
    const dirs = v1CgroupDirs(d, id);
    assert.ok(dirs.has('pids') && dirs.has('memory'), `hierarchies: ${[...dirs.keys()].join(',')}`);
    for (const [ctrl, dir] of dirs) {
      assert.ok(existsSync(dir), `${ctrl} cgroup ${dir} exists`);
      const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
      assert.ok(procs.includes(pid), `init ${pid} is in ${ctrl} cgroup`);
    }

    // Without force a running container is not removed, and nothing is torn down.
    const no = await d.api('DELETE', `/containers/${id}`);
    assert.equal(no.status, 409);
    assert.equal((await inspect(d, id)).State.Status, 'running');
    assert.ok(existsSync(join(rootfs, 'bin')), 'rootfs still mounted');

    const t0 = Date.now();
    const rm = await d.moat(['rm', '-f', id]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, `${id}\n`);
    assert.ok(Date.now() - t0 < 5000, 'rm -f kills at once');
    assertGone(d, id);
    assert.equal((await d.api('GET', `/containers/${id}/json`)).status, 404);
    // The shared parent goes an idle period (5 s) after the last container; it is there
    // until then, so a run right after this one finds it.
    const parents = [...v1CgroupDirs(d)];
    for (const ctrl of ['pids', 'memory']) assert.ok(existsSync(v1CgroupDirs(d).get(ctrl)!), `${ctrl}: the daemon's parent stays during its idle period`);
    await waitFor('the daemon\'s cgroup parent removed after its idle period', () => parents.every(([, dir]) => !existsSync(dir)), 15_000);
  });

  await t.test('an exited container keeps its bundle until rm; its mount and cgroup go at exit', async () => {
    const id = await run(d, ['sh', '-c', 'echo bye; exit 4']);
    assert.equal((await waitExited(d, id)).State.ExitCode, 4);
    assert.ok(existsSync(bundleOf(d, id)), 'bundle kept for logs and restart');
    await waitFor('overlay unmounted after exit', () => mountsContaining(id).length === 0);
    for (const [ctrl, dir] of v1CgroupDirs(d, id)) assert.equal(existsSync(dir), false, `${ctrl} cgroup removed at exit`);
    // Restart: mounted again, then removed for good.
    assert.equal((await d.api('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await waitExited(d, id)).State.ExitCode, 4);
    const rm = await d.api('DELETE', `/containers/${id}`);
    assert.equal(rm.status, 204, rm.body.toString());
    assertGone(d, id);
  });

  await t.test('a created container that never ran is removed without trace', async () => {
    const id = await create(d, { Cmd: ['true'] });
    assert.ok(existsSync(bundleOf(d, id)));
    assert.equal((await d.api('DELETE', `/containers/${id}`)).status, 204);
    assertGone(d, id);
  });

  await t.test('--rm containers remove themselves after exit', async () => {
    const r = await d.moat(['run', '--rm', '--name', 'auto', 'busybox', 'sh', '-c', 'exit 6']);
    assert.equal(r.code, 6, r.stderr);
    assert.equal((await d.api('GET', '/containers/auto/json')).status, 404);
    // Detached --rm: gone after it exits on its own.
    const det = await d.moat(['run', '-d', '--rm', 'busybox', 'sh', '-c', 'sleep 0.3']);
    assert.equal(det.code, 0, det.stderr);
    const id = det.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    await waitFor('--rm container removed', async () => (await d.api('GET', `/containers/${id}/json`)).status === 404);
    assertGone(d, id);
    // Stopped --rm: removed too.
    const det2 = await d.moat(['run', '-d', '--rm', 'busybox', 'sleep', '100']);
    const id2 = det2.stdout.trim();
    assert.equal((await d.moat(['stop', '-t', '0', id2])).code, 0);
    await waitFor('stopped --rm container removed', async () => (await d.api('GET', `/containers/${id2}/json`)).status === 404);
    assertGone(d, id2);
    assert.deepEqual(await listAll(d), []);
  });
});
