// Issue 18 (phase J): before runc moves a new process into its cgroups, moatd moves itself into
// the cgroup it is already in, so the kernel's wait for its lock on moves (an RCU grace period)
// has started when runc's move comes. What that saves is measured by bench/create-parts.ts; this
// checks, under strace, that the move is really made and accepted by the kernel, and that it
// moves nothing: the process's cgroups are the same after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requires } from '../../helpers/requires.js';

const CGROUPS = fileURLToPath(new URL('../../../src/cgroups/index.js', import.meta.url));

test('the no-op cgroup move is made, accepted, and leaves the process where it was', (t) => {
  if (!requires(t, 'root', 'strace')) return;
  const dir = mkdtempSync(join(tmpdir(), 'moat-prepay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const trace = join(dir, 'trace');
  const script = [
    `import { prepayCgroupMove } from ${JSON.stringify(CGROUPS)};`,
    `import { readFileSync } from 'node:fs';`,
    `const before = readFileSync('/proc/self/cgroup', 'utf8');`,
    `await prepayCgroupMove();`,
    `const after = readFileSync('/proc/self/cgroup', 'utf8');`,
    `console.log(JSON.stringify({ pid: process.pid, before, after }));`,
  ].join('\n');
  // -y: fds as paths; only writes are traced, in every thread (the move runs in the thread pool).
  const out = execFileSync('strace', ['-f', '-qq', '-y', '-e', 'trace=write', '-e', 'signal=none', '-o', trace, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { pid: number; before: string; after: string };
  assert.equal(r.after, r.before, 'the process is in the same cgroups after the move');
  const pid = String(r.pid);
  const moves = readFileSync(trace, 'utf8').split('\n').filter((l) => l.includes('cgroup.procs>'));
  assert.equal(moves.length, 1, `one write to a cgroup.procs:\n${moves.join('\n')}`);
  const m = /write\(\d+<(\/[^>]+)\/cgroup\.procs>, "(\d+)", \d+\) = (-?\d+)/.exec(moves[0]!);
  assert.ok(m, moves[0]);
  assert.equal(m[2], pid, 'its own pid');
  assert.equal(m[3], String(pid.length), 'the kernel accepted the move');
  // The exact directory, worked out here from mountinfo (not by the code under test): the pids
  // hierarchy's mount point (else cgroup2's) joined with the process's own path in it.
  const pidsLine = r.before.split('\n').find((l) => /^\d+:([^:]*,)?pids(,[^:]*)?:/.test(l));
  const own = pidsLine ?? r.before.split('\n').find((l) => l.startsWith('0::'));
  assert.ok(own !== undefined, r.before);
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => {
    const [left = '', right = ''] = l.split(' - ');
    const f = left.split(' ');
    const [fstype = '', , options = ''] = right.split(' ');
    return { root: f[3] ?? '', point: f[4] ?? '', fstype, options: options.split(',') };
  }).find((x) => (pidsLine !== undefined ? x.fstype === 'cgroup' && x.options.includes('pids') : x.fstype === 'cgroup2'));
  assert.ok(mount !== undefined, 'a cgroup mount for the hierarchy');
  let path = own.slice(own.indexOf(':', own.indexOf(':') + 1) + 1);
  if (mount.root !== '/' && (path === mount.root || path.startsWith(`${mount.root}/`))) path = path.slice(mount.root.length);
  const expected = `${mount.point}${path === '/' ? '' : path}`.replace(/\/+$/, '');
  assert.equal(m[1], expected, `the cgroup it is in (${own}), not another`);
});
