// A container's conmon starts before its spec is written and waits on its start pipe
// (src/runtime/conmon.ts). conmon reads the end of that pipe as a go: if moatd dies while
// conmon waits, conmon runs `runc create` anyway. It must find no spec there, not the one an
// earlier run of the container left (beginCreate removes it), and so create nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { standaloneSpec } from '../../src/spec/index.js';
import { requires } from '../helpers/requires.js';
import { REAL_RUNC, cgroupDirsOf, pidAlive } from '../helpers/daemon.js';

const RUNTIME = join(dirname(fileURLToPath(import.meta.url)), '../../src/runtime/index.js');

test('moatd killed while a conmon waits for its spec: conmon creates nothing and ends', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const dir = mkdtempSync(join(tmpdir(), 'moat-early-conmon-'));
  const cgroup = `moat-test-early-conmon-${process.pid}`;
  const paths = { runc: REAL_RUNC, conmon: '/usr/bin/conmon', runcRoot: join(dir, 'runc'), exitDir: join(dir, 'exits'), socketDir: join(dir, 's'), execDir: join(dir, 'exec') };
  const id = 'early-conmon-1';
  const bundle = join(dir, 'bundle');
  t.after(() => {
    // A conmon still there (the test failed) goes first: it would hold the container.
    const pidFile = join(bundle, 'conmon.pid');
    const conmon = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (conmon > 0 && pidAlive(conmon)) process.kill(conmon, 'SIGKILL');
    try {
      execFileSync(REAL_RUNC, ['--root', paths.runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      // Not created: what the test asserts.
    }
    for (const d of cgroupDirsOf(cgroup)) {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirSync(join(d, e.name));
      rmdirSync(d);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  // The spec of an earlier run of this container: valid, and creatable.
  mkdirSync(join(bundle, 'rootfs/bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(bundle, 'rootfs/bin/busybox'));
  const stale = standaloneSpec({ rootfs: join(bundle, 'rootfs'), args: ['/bin/busybox', 'true'], capabilities: [], noNewPrivileges: true, cgroupsPath: `${cgroup}/${id}` });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(stale));
  // "moatd": begins the create, then dies before it writes the spec and lets conmon go.
  const script = join(dir, 'moatd.mjs');
  writeFileSync(
    script,
    `const { RuncRuntime } = await import(${JSON.stringify(RUNTIME)});
const r = new RuncRuntime(${JSON.stringify(paths)});
await r.prepare({ exited() {}, monitorGone() {}, isLive: () => false });
r.beginCreate({ id: ${JSON.stringify(id)}, name: 'c', bundle: ${JSON.stringify(bundle)}, log: { driver: 'k8s-file', path: ${JSON.stringify(join(bundle, 'ctr.log'))} }, stdin: false, terminal: false, leaveStdinOpen: false });
process.kill(process.pid, 'SIGKILL');
`,
  );
  const child = spawn(process.execPath, [script], { stdio: 'inherit' });
  const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  assert.equal(signal, 'SIGKILL');
  const conmonPid = Number(readFileSync(join(bundle, 'conmon.pid'), 'utf8'));
  assert.ok(conmonPid > 0, 'a conmon was waiting');
  for (let i = 0; i < 500 && pidAlive(conmonPid); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(pidAlive(conmonPid), false, 'conmon ended');
  assert.equal(existsSync(join(bundle, 'config.json')), false, 'the stale spec was removed before conmon started');
  assert.equal(existsSync(join(paths.runcRoot, id)), false, 'runc created nothing');
  // conmon did go on at the pipe's end: runc found no spec.
  assert.match(readFileSync(join(bundle, 'runc.log'), 'utf8'), /config\.json not found/);
});
