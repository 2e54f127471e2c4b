// --userns-remap: root in the container is an unprivileged uid on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';

function remapStart(file: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('dockremap:'));
  assert.ok(line, `dockremap has a range in ${file}`);
  return Number(line.split(':')[1]);
}

test('--userns-remap default', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon({ args: ['--userns-remap', 'default'] });
  t.after(() => d.cleanup());
  const uid = remapStart('/etc/subuid');
  const gid = remapStart('/etc/subgid');
  const bind = mkdtempSync('/tmp/mt-userns-');
  chmodSync(bind, 0o777);
  t.after(() => rmSync(bind, { recursive: true, force: true }));

  await t.test('the container sees the range as its id maps; root maps to the first id', async () => {
    const r = await d.moat(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, [`0 ${uid} 65536`, `0 ${gid} 65536`, '0']);
  });

  await t.test('files made in a bind mount are owned on the host by the mapped ids', async () => {
    const root = await d.moat(['run', '--rm', '-v', `${bind}:/b`, 'busybox', 'touch', '/b/by-root']);
    assert.equal(root.code, 0, root.stderr);
    const user = await d.moat(['run', '--rm', '-u', '1000:1000', '-v', `${bind}:/b`, 'busybox', 'touch', '/b/by-1000']);
    assert.equal(user.code, 0, user.stderr);
    const st = statSync(join(bind, 'by-root'));
    assert.equal(st.uid, uid);
    assert.equal(st.gid, gid);
    const su = statSync(join(bind, 'by-1000'));
    assert.equal(su.uid, uid + 1000);
    assert.equal(su.gid, gid + 1000);
  });

  await t.test('--userns=host opts out: identity map, host-owned files', async () => {
    const r = await d.moat(['run', '--rm', '--userns', 'host', '-v', `${bind}:/b`, 'busybox', 'sh', '-c', 'cat /proc/self/uid_map; touch /b/by-host-root']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split(/\s+/), ['0', '0', '4294967295']);
    assert.equal(statSync(join(bind, 'by-host-root')).uid, 0);
  });

  await t.test('options that need the host user namespace are refused, unless --userns=host', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ Privileged: true }, /privileged mode is incompatible with user namespaces/],
      [{ PidMode: 'host' }, /cannot share the host PID namespace when user namespaces are enabled/],
      [{ NetworkMode: 'host' }, /cannot share the host's network namespace when user namespaces are enabled/],
      [{ IpcMode: 'host' }, /IPC namespace/],
    ];
    for (const [hc, msg] of cases) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hc });
      assert.equal(r.status, 400, JSON.stringify(hc));
      assert.match(r.json<{ message: string }>().message, msg);
      const ok = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { ...hc, UsernsMode: 'host' } });
      assert.equal(ok.status, 201, `${JSON.stringify(hc)} with UsernsMode host: ${ok.body.toString()}`);
      await d.api('DELETE', `/containers/${ok.json<{ Id: string }>().Id}`);
    }
  });

  await t.test('info shows the userns option; inspect shows the id maps', async () => {
    const info = (await d.api('GET', '/info')).json<{ SecurityOptions: string[]; DockerRootDir: string }>();
    assert.ok(info.SecurityOptions.includes('name=userns'));
    assert.equal(info.DockerRootDir, join(d.dataRoot, `${uid}.${gid}`));
    const c = await d.api('POST', '/containers/create?name=maps', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(c.status, 201);
    const sec = (await d.api('GET', '/containers/maps/json')).json<{ Security: { UidMap: unknown; GidMap: unknown } }>().Security;
    assert.deepEqual(sec.UidMap, [{ ContainerID: 0, HostID: uid, Size: 65536 }]);
    assert.deepEqual(sec.GidMap, [{ ContainerID: 0, HostID: gid, Size: 65536 }]);
    await d.api('DELETE', '/containers/maps');
  });

  await t.test('live restore, exec, logs and rm work for remapped containers', async () => {
    const c = await d.moat(['run', '-d', '--name', 'lr', 'busybox', 'sh', '-c', 'echo started; trap "exit 7" TERM; while true; do sleep 1; done']);
    assert.equal(c.code, 0, c.stderr);
    await d.kill();
    await d.start();
    const st = (await d.api('GET', '/containers/lr/json')).json<{ State: { Running: boolean } }>().State;
    assert.equal(st.Running, true, 'still running after moatd was killed');
    const ex = await d.moat(['exec', 'lr', 'id', '-u']);
    assert.equal(ex.stdout.trim(), '0');
    const logs = await d.moat(['logs', 'lr']);
    assert.match(logs.stdout, /started/);
    const stop = await d.api('POST', '/containers/lr/stop?t=5');
    assert.equal(stop.status, 204);
    assert.equal((await d.api('GET', '/containers/lr/json')).json<{ State: { ExitCode: number } }>().State.ExitCode, 7);
    assert.equal((await d.api('DELETE', '/containers/lr')).status, 204);
  });

  await t.test('docker cp into a remapped container and its volume: root-owned in the container, or the tar\'s ids with copyUIDGID', async () => {
    const pack = tar.pack();
    pack.entry({ name: 'cp-in', mode: 0o640, uid: 1234, gid: 1234 }, 'x');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks);
    for (const [name, extra] of [['cpr', []], ['cph', ['--userns', 'host']]] as const) {
      const c = await d.moat(['run', '-d', '--name', name, ...extra, '-v', `cpvol-${name}:/vol`, 'busybox', 'sleep', '600']);
      assert.equal(c.code, 0, c.stderr);
      // /vol: a named volume mounted over the rootfs; the copy lands in it, owned the same way.
      for (const dir of ['/tmp', '/vol']) {
        for (const [q, want] of [['', '0 0'], ['&copyUIDGID=1', '1234 1234']] as const) {
          const r = await d.api('PUT', `/containers/${name}/archive?path=${dir}${q}`, body, { 'Content-Type': 'application/x-tar' });
          assert.equal(r.status, 200, r.body.toString());
          const st = await d.moat(['exec', name, 'stat', '-c', '%u %g %a', `${dir}/cp-in`]);
          assert.equal(st.stdout.trim(), `${want} 640`, `${name}${dir}${q}`);
        }
      }
      assert.equal((await d.api('DELETE', `/containers/${name}?force=1`)).status, 204);
    }
  });

  await t.test('turning remap off and on keeps each store', async () => {
    const inRemap = await d.api('POST', '/containers/create?name=in-remap', { Image: 'busybox', Cmd: ['true'] });
    assert.equal(inRemap.status, 201);
    await d.stop();
    const plain = await startDaemon();
    t.after(() => plain.cleanup());
    // Same data root, no remap: a separate daemon on the same roots.
    await plain.stop();
    const sameRoot = await startDaemon({ args: ['--data-root', d.dataRoot] });
    t.after(() => sameRoot.cleanup());
    const names = (await sameRoot.api('GET', '/containers/json?all=1')).json<Array<{ Names: string[] }>>().flatMap((c) => c.Names);
    assert.equal(names.includes('/in-remap'), false, 'the remapped store is not visible without remap');
    assert.equal((await sameRoot.api('POST', '/containers/create?name=plain', { Image: 'busybox', Cmd: ['true'] })).status, 201);
    await sameRoot.api('DELETE', '/containers/plain');
    await sameRoot.stop();
    await d.start();
    const back = (await d.api('GET', '/containers/json?all=1')).json<Array<{ Names: string[] }>>().flatMap((c) => c.Names);
    assert.ok(back.includes('/in-remap'), 'the remapped store is back with remap on');
  });
});
