// Many `docker run --rm` at once through the real CLI. Issue 18's fast paths (conmon spawned
// before the spec, the start and delete done without runc, the cgroup move paid ahead, the
// attach reader thread shared by all containers) run interleaved here: each client must get
// its own stdout, stderr and exit code, complete, and the daemon must be left with nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, cgroupDirsOf } from '../../helpers/daemon.js';
import { mountsContaining } from '../../helpers/containers.js';
import { checkConsistency } from '../../faults/consistency.js';
import { docker, dockerOk, until } from './cli.js';

const NEEDS = ['root', 'runc', 'conmon', 'busybox', 'docker-cli'] as const;
/** At once: enough to interleave every phase on CI's two cores, few enough to stay quick. */
const AT_ONCE = 8;

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** What `seq 1 n` prints. */
function seqText(n: number): string {
  let s = '';
  for (let i = 1; i <= n; i++) s += `${i}\n`;
  return s;
}

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('concurrent docker run --rm: each client gets its own output and exit code; nothing is left', async (t) => {
  if (!requires(t, ...NEEDS)) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test(`${AT_ONCE} at once, twice: stdout, stderr and exit code each its own`, async () => {
    for (const round of [1, 2]) {
      const runs = await Promise.all(
        Array.from({ length: AT_ONCE }, (_, i) =>
          docker(d, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `echo out-${round}-${i}; echo err-${round}-${i} >&2; exit ${10 + i}`], { timeoutMs: 60_000 }),
        ),
      );
      runs.forEach((r, i) => {
        assert.equal(r.code, 10 + i, `round ${round} run ${i}: ${r.stderr}`);
        assert.equal(r.stdout, `out-${round}-${i}\n`, `round ${round} run ${i} stdout`);
        assert.equal(r.stderr, `err-${round}-${i}\n`, `round ${round} run ${i} stderr`);
      });
    }
  });

  await t.test('4 at once with ~110 KB on each stream: every byte arrives, in order', async () => {
    const want = seqText(20_000);
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => docker(d, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'seq 1 20000; seq 1 20000 >&2; exit 3'], { timeoutMs: 60_000 })),
    );
    runs.forEach((r, i) => {
      assert.equal(r.code, 3, `run ${i}: ${r.stderr.slice(-200)}`);
      assert.equal(r.stdout.length, want.length, `run ${i} stdout length`);
      assert.equal(sha(r.stdout), sha(want), `run ${i} stdout`);
      assert.equal(sha(r.stderr), sha(want), `run ${i} stderr`);
    });
  });

  await t.test('afterwards: no container, bundle, runc state, mount or container cgroup; the consistency check finds nothing', async () => {
    assert.equal(await dockerOk(d, ['ps', '-aq']), '', 'every --rm container removed itself');
    // The cgroup check below looks where a container's cgroups are: one running now has a
    // directory there in every hierarchy.
    const id = (await dockerOk(d, ['run', '-d', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    const dirs = cgroupDirsOf(d.cgroupParent);
    assert.ok(dirs.length > 0 && dirs.every((dir) => existsSync(join(dir, id))), `a running container's cgroups are under ${dirs.join(', ')}`);
    await dockerOk(d, ['rm', '-f', id]);
    assert.deepEqual(entries(join(d.dataRoot, 'containers')), [], 'no bundle dir');
    assert.deepEqual(entries(join(d.execRoot, 'runc')), [], 'no runc state dir');
    assert.deepEqual(entries(join(d.execRoot, 'exits')), [], 'no exit file');
    assert.deepEqual(mountsContaining(d.root), [], 'no mount under the daemon roots');
    // The daemon's cgroup parent goes a few seconds after its last container; until then it
    // must hold no container's cgroup.
    await until(
      async () => cgroupDirsOf(d.cgroupParent).every((dir) => !readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory())),
      10_000,
      'no container cgroup under the daemon parent',
    );
    assert.deepEqual(await checkConsistency(d), []);
  });
});
