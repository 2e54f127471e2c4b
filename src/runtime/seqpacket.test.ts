import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, readFile, copyFile, symlink, readdir, rmdir, access } from 'node:fs/promises';
import { openSync, closeSync, constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import koffi from 'koffi';
import { EngineError } from '../base/index.js';
import {
  connectSeqpacket,
  decodeAttachPacket,
  onAttachPackets,
  attachStdin,
  ATTACH_STDOUT,
  ATTACH_STDERR,
  POLL_TIMEOUT_MS,
  type AttachPacket,
} from './seqpacket.js';

const run = promisify(execFile);

// A tiny blocking SEQPACKET server through koffi: enough to check what the client sees.
const lib = koffi.load('libc.so.6');
const c = {
  socket: lib.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number,
  bind: lib.func('int bind(int, const void *, uint32_t)') as (fd: number, a: Buffer, l: number) => number,
  listen: lib.func('int listen(int, int)') as (fd: number, n: number) => number,
  accept4: lib.func('int accept4(int, void *, void *, int)') as (fd: number, a: null, b: null, f: number) => number,
  write: lib.func('intptr_t write(int, const void *, size_t)') as (fd: number, b: Buffer, n: number) => number,
  read: lib.func('intptr_t read(int, void *, size_t)') as (fd: number, b: Buffer, n: number) => number,
  recv: lib.func('int recv(int, void *, size_t, int)') as (fd: number, b: Buffer, n: number, f: number) => number,
  close: lib.func('int close(int)') as (fd: number) => number,
};

const threads = async (): Promise<number> => (await readdir('/proc/self/task')).length;
// Before any session of this file (readdir itself starts libuv's thread pool, where the
// reader's poll(2) waits). A reader thread of its own would show in later counts.
const THREADS_AT_START = await threads();

function addr(path: string): Buffer {
  const a = Buffer.alloc(110);
  a.writeUInt16LE(1, 0);
  Buffer.from(path).copy(a, 2);
  return a;
}

function listenSeqpacket(sunPath: string): number {
  const fd = c.socket(1, 5 | 0o2000000, 0);
  assert.ok(fd >= 0, 'socket');
  assert.equal(c.bind(fd, addr(sunPath), 110), 0, `bind ${sunPath}: errno ${koffi.errno()}`);
  // The listen backlog also bounds how many packets a connected peer may queue.
  assert.equal(c.listen(fd, 64), 0, 'listen');
  return fd;
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }, prefix = 'moat-seqpacket-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function collect(socket: net.Socket): Promise<AttachPacket[]> {
  const packets: AttachPacket[] = [];
  onAttachPackets(socket, (p) => packets.push({ stream: p.stream, data: Buffer.from(p.data) }));
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(packets));
  });
}

test('decodeAttachPacket() splits the stream byte from the data', () => {
  assert.deepEqual(decodeAttachPacket(Buffer.from('\x02hi')), { stream: 2, data: Buffer.from('hi') });
  assert.deepEqual(decodeAttachPacket(new Uint8Array([3])), { stream: 3, data: Buffer.alloc(0) });
  assert.equal(decodeAttachPacket(Buffer.alloc(0)), undefined);
});

test('connectSeqpacket() throws an internal EngineError naming the path', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'missing');
  await assert.rejects(connectSeqpacket(path), (err: unknown) => {
    assert.ok(err instanceof EngineError);
    assert.equal(err.kind, 'internal');
    assert.match(err.message, /missing.*ENOENT/);
    assert.ok(err.cause instanceof Error);
    return true;
  });
});

test('every queued packet arrives, one data event each, when the peer closes before we read', async (t) => {
  // Through libuv this case yields 1 data event then EOF (its POLLHUP short-cut): the reader must get all.
  const dir = await tempDir(t);
  const path = join(dir, 'attach');
  const lfd = listenSeqpacket(path);
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0o4000 /* SOCK_NONBLOCK */);
  assert.ok(sfd >= 0);
  const sent: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const pkt = Buffer.concat([Buffer.from([i % 2 === 0 ? ATTACH_STDOUT : ATTACH_STDERR]), Buffer.alloc(1 + ((i * 97) % 8191), 97 + (i % 26))]);
    assert.equal(c.write(sfd, pkt, pkt.length), pkt.length);
    sent.push(pkt);
  }
  c.close(sfd);
  const packets = await collect(socket);
  assert.equal(packets.length, sent.length);
  packets.forEach((p, i) => {
    assert.equal(p.stream, sent[i]![0]);
    assert.ok(p.data.equals(sent[i]!.subarray(1)), `packet ${i}`);
  });
});

test('packets keep their boundaries and order across pause/resume and backpressure', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'attach');
  const lfd = listenSeqpacket(path);
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0o4000);
  const sent = Array.from({ length: 150 }, (_, i) =>
    Buffer.concat([Buffer.from([ATTACH_STDOUT]), Buffer.alloc(1 + ((i * 131) % 8191), 65 + (i % 26))]),
  );
  const got = collect(socket);
  socket.pause(); // nothing is taken off the socket beyond the stream's buffer
  let queued = 0;
  const pump = (async () => {
    while (queued < sent.length) {
      const pkt = sent[queued]!;
      const n = c.write(sfd, pkt, pkt.length);
      if (n === pkt.length) queued++;
      else if (n < 0 && koffi.errno() === 11) await new Promise((r) => setTimeout(r, 2));
      else throw new Error(`write: ${n} errno ${koffi.errno()}`);
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(queued < sent.length, 'the writer is held back while the reader is paused');
  socket.resume();
  await pump;
  c.close(sfd);
  const packets = await got;
  assert.equal(packets.length, sent.length);
  packets.forEach((p, i) => assert.ok(p.data.equals(sent[i]!.subarray(1)), `packet ${i}`));
});

test('output queued behind an ECONNRESET (peer closed with our data unread) still arrives', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'attach');
  const lfd = listenSeqpacket(path);
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0);
  await new Promise<void>((resolve) => socket.write(Buffer.from('never read'), () => resolve()));
  for (const s of ['\x02one', '\x03two']) c.write(sfd, Buffer.from(s), Buffer.byteLength(s));
  c.close(sfd);
  const packets = await collect(socket);
  assert.deepEqual(packets.map((p) => `${p.stream}:${p.data.toString()}`), ['2:one', '3:two']);
});

test('destroy() stops the reader and closes the connection', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'attach');
  const lfd = listenSeqpacket(path);
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0);
  t.after(() => void c.close(sfd));
  socket.destroy();
  // The server sees EOF once both our fd and the reader's dup are closed.
  const buf = Buffer.alloc(16);
  const deadline = Date.now() + 3000;
  let n = -1;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    n = c.recv(sfd, buf, 16, 0x40 /* MSG_DONTWAIT */);
    if (n === 0) break;
  }
  assert.equal(n, 0);
});

test('sessions start no thread: each gets its own packets, in order, and one stopping leaves the others', async (t) => {
  const dir = await tempDir(t);
  const all: { socket: net.Socket; sfd: number }[] = [];
  // On failure too: no socket may stay open (it would keep the test process alive).
  t.after(() => {
    for (const s of all) {
      s.socket.destroy();
      if (s.sfd >= 0) c.close(s.sfd);
    }
  });
  const closeServer = (s: { sfd: number }): void => {
    c.close(s.sfd);
    s.sfd = -1;
  };
  for (let i = 0; i < 8; i++) {
    const lfd = listenSeqpacket(join(dir, `a${i}`));
    t.after(() => void c.close(lfd));
    const socket = await connectSeqpacket(join(dir, `a${i}`));
    const sfd = c.accept4(lfd, null, null, 0);
    all.push({ socket, sfd });
    assert.ok(sfd >= 0);
  }
  await new Promise((r) => setTimeout(r, 200));
  const now = await threads();
  assert.ok(now <= THREADS_AT_START, `8 sessions start no thread (${THREADS_AT_START} threads before the first session, ${now} now)`);
  const done = all.map((s) => collect(s.socket));
  // Session 3 goes away early; the others keep their streams.
  all[3]!.socket.destroy();
  for (let k = 0; k < 20; k++) {
    for (const [i, s] of all.entries()) {
      if (i === 3) continue;
      const pkt = Buffer.from(`\x02s${i}p${k}`, 'latin1');
      assert.equal(c.write(s.sfd, pkt, pkt.length), pkt.length);
    }
  }
  for (const [i, s] of all.entries()) if (i !== 3) closeServer(s);
  const got = await Promise.all(done);
  for (const [i, packets] of got.entries()) {
    if (i === 3) continue;
    assert.deepEqual(packets.map((p) => p.data.toString()), Array.from({ length: 20 }, (_, k) => `s${i}p${k}`), `session ${i}`);
  }
});

for (const how of ['process.exit(0)', 'an uncaught exception']) {
  test(`a process with an open session ends at once on ${how}, not after the poll's timeout`, async (t) => {
    // libuv joins its pool threads at exit, so a poll(2) left waiting would hold the exit.
    const dir = await tempDir(t);
    const path = join(dir, 'attach');
    const lfd = listenSeqpacket(path);
    t.after(() => void c.close(lfd));
    const module = new URL('./seqpacket.js', import.meta.url).href;
    const end = how === 'process.exit(0)' ? 'process.exit(0)' : 'throw new Error("boom")';
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { connectSeqpacket } = await import(${JSON.stringify(module)});
      const socket = await connectSeqpacket(${JSON.stringify(path)});
      socket.on('data', () => {});
      setTimeout(() => { console.log('ending'); ${end}; }, 300);
    `], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => void child.kill('SIGKILL'));
    let endingAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (endingAt === 0 && d.toString().includes('ending')) endingAt = performance.now();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.ok(endingAt > 0, 'the child opened its session and ended');
    assert.equal(code, how === 'process.exit(0)' ? 0 : 1);
    const took = performance.now() - endingAt;
    assert.ok(took < POLL_TIMEOUT_MS / 2, `exited ${Math.round(took)} ms after ending (the poll times out after ${POLL_TIMEOUT_MS} ms)`);
  });
}

test('attachStdin() sends packets of at most 8192 bytes and end() half-closes', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'attach');
  const lfd = listenSeqpacket(path);
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0);
  t.after(() => void c.close(sfd));
  const payload = randomBytes(20000);
  const stdin = attachStdin(socket);
  socket.resume();
  await new Promise<void>((resolve, reject) => stdin.end(payload, () => resolve()).on('error', reject));
  const buf = Buffer.alloc(65536);
  const sizes: number[] = [];
  const parts: Buffer[] = [];
  for (;;) {
    const n = c.read(sfd, buf, buf.length); // blocking; data is already queued
    if (n <= 0) break; // 0: the client's shutdown(SHUT_WR)
    sizes.push(n);
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  assert.deepEqual(sizes, [8192, 8192, 3616]);
  assert.ok(Buffer.concat(parts).equals(payload));
  socket.destroy();
});

test('connectSeqpacket() reaches a socket whose path exceeds sun_path', async (t) => {
  const dir = await tempDir(t);
  const deep = join(dir, 'd'.repeat(60), 'e'.repeat(60));
  await mkdir(deep, { recursive: true });
  const path = join(deep, 'attach');
  assert.ok(Buffer.byteLength(path) > 108);
  const dfd = openSync(deep, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  let lfd: number;
  try {
    lfd = listenSeqpacket(`/proc/self/fd/${dfd}/attach`);
  } finally {
    closeSync(dfd);
  }
  t.after(() => void c.close(lfd));
  const socket = await connectSeqpacket(path);
  const sfd = c.accept4(lfd, null, null, 0);
  const got = collect(socket);
  const pkt = Buffer.from('\x02long path ok');
  c.write(sfd, pkt, pkt.length);
  c.close(sfd);
  const packets = await got;
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.data.toString(), 'long path ok');
});

// ---- real conmon + runc ----------------------------------------------------------------

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

async function cgroupMounts(): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post || !/^cgroup2? /.test(post)) continue;
    const f = pre.split(' ');
    if (f[3] === '/' && f[4]) out.push(f[4]);
  }
  return out;
}

/** Remove `parent` (and empty children) in every hierarchy, under our own cgroup there. */
async function removeCgroupParent(parent: string): Promise<void> {
  const own = new Map<string, string>();
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).trim().split('\n')) {
    const [, ctrl = '', path = '/'] = line.split(':');
    for (const name of ctrl === '' ? [''] : ctrl.split(',')) own.set(name.replace(/^name=/, ''), path);
  }
  const rmTree = async (dir: string): Promise<void> => {
    if (!(await exists(dir))) return;
    for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await rmTree(join(dir, e.name));
    await rmdir(dir);
  };
  for (const mount of await cgroupMounts()) {
    const opts = mount.split('/').pop() ?? '';
    const key = [...own.keys()].find((k) => k !== '' && (opts === k || opts.split(',').includes(k))) ?? '';
    await rmTree(join(mount, own.get(key) ?? '/', parent));
  }
}

test('attach to a real conmon: stdin reaches the container, stdout=2 and stderr=3 come back', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('requires root');
  for (const bin of ['/usr/bin/conmon', '/usr/sbin/runc', '/bin/busybox']) {
    if (!(await exists(bin))) return t.skip(`requires ${bin}`);
  }
  // One after-hook, in order: runc delete (it would re-create its root), conmon, cgroups, files.
  const dir = await mkdtemp(join(tmpdir(), 'moat-conmon-'));
  const id = `moat-test-${randomBytes(6).toString('hex')}`;
  const cgParent = `moat-test-${randomBytes(4).toString('hex')}`;
  const bundle = join(dir, 'bundle');
  const runRoot = join(dir, 'runc');
  const sockDir = join(dir, 'sock');
  const exitDir = join(dir, 'exit');
  const conmonPidFile = join(dir, 'conmon.pid');
  t.after(async () => {
    await run('/usr/sbin/runc', ['--root', runRoot, 'delete', '--force', id]).catch(() => undefined);
    const pid = Number(await readFile(conmonPidFile, 'utf8').catch(() => '0'));
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await removeCgroupParent(cgParent);
    await rm(dir, { recursive: true, force: true });
  });
  for (const d of [join(bundle, 'rootfs', 'bin'), runRoot, sockDir, exitDir]) await mkdir(d, { recursive: true });
  await copyFile('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'));
  await symlink('busybox', join(bundle, 'rootfs', 'bin', 'sh'));
  await run('/usr/sbin/runc', ['spec', '--bundle', bundle]);
  const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
    process: { terminal: boolean; args: string[] };
    root: { readonly: boolean };
    linux: { cgroupsPath?: string };
  };
  spec.process.terminal = false;
  spec.process.args = ['/bin/sh', '-c', 'read x; echo got:$x; echo err >&2'];
  spec.linux.cgroupsPath = `${cgParent}/${id}`;
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));


  // conmon's parent returns at once, before `runc create` has run: wait for the pid that
  // conmon writes to _OCI_SYNCPIPE ({"data": <pid>} or {"data": -1, "message": ...}).
  // _OCI_STARTPIPE makes conmon wait until we write a byte (time to move it into a cgroup).
  const conmon = spawn('/usr/bin/conmon', [
    '--api-version', '1',
    '-c', id, '-u', id, '-n', id,
    '-r', '/usr/sbin/runc',
    '-b', bundle,
    '-p', join(dir, 'ctr.pid'),
    '-P', conmonPidFile,
    '-l', `k8s-file:${join(dir, 'ctr.log')}`,
    '--exit-dir', exitDir,
    '--socket-dir-path', sockDir,
    '--runtime-arg', `--root=${runRoot}`,
    '-i',
  ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' } });
  let conmonErr = '';
  conmon.stderr!.on('data', (d: Buffer) => (conmonErr += d.toString()));
  const sync = conmon.stdio[3] as Readable;
  const firstLine = new Promise<string>((resolve, reject) => {
    let buf = '';
    sync.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    sync.on('end', () => reject(new Error(`conmon closed the sync pipe: ${buf} ${conmonErr}`)));
  });
  (conmon.stdio[4] as Writable).end(Buffer.from([0]));
  const created = JSON.parse(await firstLine) as { data: number; message?: string };
  assert.ok(created.data > 0, `runc create failed: ${created.message ?? ''}`);
  assert.equal(Number(await readFile(join(dir, 'ctr.pid'), 'utf8')), created.data);
  const socket = await connectSeqpacket(join(sockDir, id, 'attach'));
  const got = collect(socket);
  await run('/usr/sbin/runc', ['--root', runRoot, 'start', id], { timeout: 20000 });
  attachStdin(socket).end('hello\n');
  const packets = await got;
  const text = (s: number): string => Buffer.concat(packets.filter((p) => p.stream === s).map((p) => p.data)).toString();
  assert.equal(text(ATTACH_STDOUT), 'got:hello\n');
  assert.equal(text(ATTACH_STDERR), 'err\n');
  // conmon writes the exit code to <exit-dir>/<cid> after the socket closes.
  for (let i = 0; i < 100 && !(await exists(join(exitDir, id))); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await readFile(join(exitDir, id), 'utf8')).trim(), '0');
  const log = await readFile(join(dir, 'ctr.log'), 'utf8');
  assert.match(log, /stdout F got:hello\n/);
  assert.match(log, /stderr F err\n/);
  await new Promise<void>((resolve) => (sync.readableEnded ? resolve() : sync.on('end', () => resolve()).resume()));
});
