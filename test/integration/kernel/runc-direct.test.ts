// moatd starts and deletes runc 1.1 containers itself (exec FIFO, state dir, cgroups) and
// leaves both to runc for any other runc version. A wrapper records every runc invocation,
// so the test sees which steps ran runc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { REAL_RUNC, cgroupDirsOf, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { inspect, run, waitExited } from '../../helpers/containers.js';

/** A runc that logs its argv to `log` and, with `version`, claims to be that version. */
function runcWrapper(dir: string, name: string, version?: string): { bin: string; log: string } {
  const bin = join(dir, name);
  const log = join(dir, `${name}.log`);
  const fake = version === undefined ? '' : `if [ "$1" = --version ]; then echo "runc version ${version}"; exit 0; fi\n`;
  writeFileSync(bin, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n${fake}exec '${REAL_RUNC}' "$@"\n`);
  chmodSync(bin, 0o755);
  return { bin, log };
}

/** The runc subcommands the wrapper saw for container `id` (`start`, `delete`, ...). */
function runcCallsFor(log: string, id: string): string[] {
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [];
  return lines.filter((l) => l.endsWith(` ${id}`)).map((l) => /\s(create|start|delete|kill|state|ps|pause|resume)\s/.exec(l)?.[1] ?? '?');
}

async function exerciseContainers(d: TestDaemon): Promise<{ detached: string; hostPid: string; rm: { code: number; stdout: string } }> {
  // Detached: exit code recorded, output in the log.
  const detached = await run(d, ['sh', '-c', 'echo out; exit 3']);
  assert.equal((await waitExited(d, detached)).State.ExitCode, 3);
  const logs = await d.api('GET', `/containers/${detached}/logs?stdout=1`);
  assert.match(logs.body.toString(), /out/);
  // Attached --rm through the CLI: output from the first byte, exit code, container gone.
  const rm = await d.moat(['run', '--rm', 'busybox', 'sh', '-c', 'echo first; exit 7']);
  // The host pid namespace: runc's delete also kills what is left in the cgroup.
  const hostPid = await run(d, ['true'], { HostConfig: { PidMode: 'host' } });
  assert.equal((await waitExited(d, hostPid)).State.ExitCode, 0);
  return { detached, hostPid, rm };
}

test('runc start and delete in moatd (runc 1.1) and through runc (another version)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const real = execVersion();
  if (!/^runc version 1\.1\./m.test(real)) {
    t.skip(`this machine's runc is not 1.1 (${real.split('\n')[0]})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'moat-runc-direct-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  await t.test('runc 1.1: moatd opens the exec FIFO and removes the state itself', async (tt) => {
    const w = runcWrapper(dir, 'runc-same');
    const d = await startDaemon({ args: ['--runc', w.bin] });
    tt.after(() => d.cleanup());
    assert.match(readFileSync(d.logFile, 'utf8'), /moatd starts and deletes containers itself/);
    const { detached, hostPid, rm } = await exerciseContainers(d);
    assert.equal(rm.code, 7);
    assert.equal(rm.stdout, 'first\n');
    assert.deepEqual(runcCallsFor(w.log, detached), ['create'], 'no runc start or delete for an ordinary container (conmon runs create)');
    assert.equal(existsSync(join(d.execRoot, 'runc', detached)), false, 'runc state removed');
    for (const cg of cgroupDirsOf(d.cgroupParent)) assert.equal(existsSync(join(cg, detached)), false, `cgroup ${cg}/${detached} removed`);
    // The host pid namespace is runc's to delete (it kills the cgroup's processes first).
    assert.deepEqual(runcCallsFor(w.log, hostPid), ['create', 'delete']);
    assert.equal(existsSync(join(d.execRoot, 'runc', hostPid)), false);
    // Started again after an exit: a new create, started the same way.
    assert.equal((await d.api('POST', `/containers/${detached}/start`)).status, 204);
    assert.equal((await waitExited(d, detached)).State.ExitCode, 3);
    assert.deepEqual(runcCallsFor(w.log, detached), ['create', 'create']);
    assert.equal((await inspect(d, detached)).State.Status, 'exited');
  });

  await t.test('another runc version: start and delete run runc', async (tt) => {
    const w = runcWrapper(dir, 'runc-other', '1.2.0');
    const d = await startDaemon({ args: ['--runc', w.bin] });
    tt.after(() => d.cleanup());
    assert.match(readFileSync(d.logFile, 'utf8'), /runc start and delete run runc/);
    const { detached, rm } = await exerciseContainers(d);
    assert.equal(rm.code, 7);
    assert.equal(rm.stdout, 'first\n');
    assert.deepEqual(runcCallsFor(w.log, detached), ['create', 'start', 'delete']);
    assert.equal(existsSync(join(d.execRoot, 'runc', detached)), false);
  });
});

function execVersion(): string {
  try {
    return execFileSync(REAL_RUNC, ['--version'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}
