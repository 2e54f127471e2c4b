import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnDetached, unreapedChildren } from './spawn.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A field of /proc/PID/status (SigIgn, SigBlk …), or undefined once the process is gone. */
function statusField(pid: number, name: string): string | undefined {
  try {
    return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

test('spawnDetached: own session, cwd, /dev/null stdin, output fd, a pipe as fd 3, default signals; reaped after it exits', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'moat-spawn-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = openSync(join(dir, 'out'), 'a', 0o600);
  // Node ignores SIGPIPE; the child must not inherit that.
  assert.notEqual(BigInt(`0x${statusField(process.pid, 'SigIgn') ?? '0'}`) & (1n << 12n), 0n, 'moatd (this test) ignores SIGPIPE');
  let child: { pid: number; pipes: number[] };
  try {
    child = spawnDetached({
      file: '/bin/sh',
      argv: ['sh', '-c', 'read x; echo "stdin=[$x] cwd=$(pwd) env=$MOAT_T"; echo to-fd3 >&3; echo err >&2; read y </dev/null; sleep 0.3'],
      env: { PATH: '/usr/bin:/bin', MOAT_T: 'yes' },
      cwd: dir,
      outputFd: out,
      pipes: 1,
    });
  } finally {
    closeSync(out);
  }
  const { pid } = child;
  const sock = new Socket({ fd: child.pipes[0]!, readable: true, writable: false });
  const fromPipe = await new Promise<string>((resolve) => {
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString()));
    sock.on('end', () => resolve(text));
  });
  assert.equal(fromPipe, 'to-fd3\n', 'fd 3 is the pipe, closed when the child ends');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  assert.equal(Number(stat[3]), pid, 'its own session (sid = pid)');
  assert.equal(statusField(pid, 'SigIgn'), '0000000000000000', 'no signal ignored');
  assert.equal(statusField(pid, 'SigBlk'), '0000000000000000', 'no signal blocked');
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(10);
  assert.equal(existsSync(`/proc/${pid}`), false, 'reaped: no zombie left');
  assert.equal(unreapedChildren(), 0);
  assert.equal(readFileSync(join(dir, 'out'), 'utf8'), `stdin=[] cwd=${dir} env=yes\nerr\n`);
  // Node's own children still end normally with the reaper's SIGCHLD listener installed.
  const code = await new Promise<number | undefined>((resolve) => execFile('/bin/sh', ['-c', 'exit 3'], (err) => resolve(err?.code as number | undefined)));
  assert.equal(code, 3);
});

test('spawnDetached: an input pipe follows the output pipes; the child waits on it until moatd writes', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'moat-spawn-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = openSync(join(dir, 'out'), 'a', 0o600);
  let child: { pid: number; pipes: number[]; inputPipes: number[] };
  try {
    child = spawnDetached({ file: '/bin/sh', argv: ['sh', '-c', 'echo waiting >&3; read go <&4; echo "go=$go" >&3'], env: { PATH: '/usr/bin:/bin' }, cwd: dir, outputFd: out, pipes: 1, inputPipes: 1 });
  } finally {
    closeSync(out);
  }
  assert.equal(child.pipes.length, 1);
  assert.equal(child.inputPipes.length, 1);
  const sock = new Socket({ fd: child.pipes[0]!, readable: true, writable: false });
  let text = '';
  const ended = new Promise<void>((resolve) => sock.on('end', resolve));
  sock.on('data', (b: Buffer) => (text += b.toString()));
  for (let i = 0; i < 200 && text === ''; i++) await sleep(10);
  await sleep(50);
  assert.equal(text, 'waiting\n', 'nothing after the read until moatd writes');
  writeSync(child.inputPipes[0]!, '1\n');
  closeSync(child.inputPipes[0]!);
  await ended;
  assert.equal(text, 'waiting\ngo=1\n');
});

test('spawnDetached: a program that does not exist is an error naming the errno, and leaves no fd behind', () => {
  const before = openSync('/dev/null', 'r');
  closeSync(before);
  assert.throws(() => spawnDetached({ file: '/no/such/program', argv: ['x'], env: {}, cwd: '/', outputFd: 2, pipes: 1 }), /Cannot run \/no\/such\/program: ENOENT/);
  const after = openSync('/dev/null', 'r');
  closeSync(after);
  assert.equal(after, before, 'the pipe ends were closed');
});
