// docker run -it (a terminal through conmon: resize, Ctrl-C) and docker exec, with the real
// docker CLI 28. The CLI gets a pseudo-terminal from a small python3 driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires, dockerCli } from '../../helpers/requires.js';
import { REPO, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerEnv, dockerOk } from './cli.js';

// Runs argv on a pty sized 30x100, then plays the steps: ["send", text] writes to the
// terminal, ["expect", text] waits for it in the output, ["resize", rows, cols] resizes the
// terminal (the kernel sends SIGWINCH to the CLI), ["sleep", s], ["wait-file", path] waits
// for a file to exist. Prints a JSON report.
const DRIVER = String.raw`
import os, pty, sys, time, select, fcntl, termios, struct, json
steps = json.loads(sys.argv[1]); argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    os.execvp(argv[0], argv)
out = b''
results = []
def pump(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        out += data
    return True
mark = 0
for st in steps:
    if st[0] == 'send':
        os.write(fd, st[1].encode())
    elif st[0] == 'resize':
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', st[1], st[2], 0, 0))
    elif st[0] == 'sleep':
        end = time.time() + st[1]
        while time.time() < end and pump(0.05): pass
    elif st[0] == 'wait-file':
        t0 = time.time(); ok = False
        while time.time() - t0 < 15:
            if os.path.exists(st[1]):
                ok = True; break
            if not pump(0.05): break
        results.append({'expect': 'file ' + st[1], 'ok': ok, 'secs': round(time.time() - t0, 3)})
    elif st[0] == 'expect':
        t0 = time.time(); ok = False
        while time.time() - t0 < 15:
            i = out.find(st[1].encode(), mark)
            if i >= 0:
                ok = True; mark = i + len(st[1]); break
            if not pump(0.1): break
        results.append({'expect': st[1], 'ok': ok, 'secs': round(time.time() - t0, 3)})
end = time.time() + 15
while time.time() < end and pump(0.1): pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'results': results, 'exit': os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, 'out': out.decode('utf8', 'replace')}))
`;

type Step = ['send', string] | ['expect', string] | ['resize', number, number] | ['sleep', number] | ['wait-file', string];
interface PtyReport {
  results: Array<{ expect: string; ok: boolean; secs: number }>;
  exit: number;
  out: string;
}

/** Runs the docker CLI with args on a pty, or another client's full argv (`argv`). */
function onPty(d: TestDaemon, args: string[], steps: Step[], argv = [dockerCli()!, ...args]): Promise<PtyReport> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', DRIVER, JSON.stringify(steps), ...argv], { env: dockerEnv(d), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout) as PtyReport);
      } catch {
        reject(new Error(`pty driver failed: ${stderr}${stdout}`));
      }
    });
  });
}

function assertExpectations(r: PtyReport): void {
  for (const e of r.results) assert.ok(e.ok, `did not see ${JSON.stringify(e.expect)} in:\n${r.out}`);
}

const hasPython = (): boolean => existsSync('/usr/bin/python3');

test('docker run -it: a terminal with resize and Ctrl-C', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  if (!hasPython()) return t.skip('requires python3 for a pty');
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // The docker CLI reads its terminal's size, sends it, and only then handles SIGWINCH
  // (MonitorTtySize in the CLI's container/tty.go): a resize in between is lost whatever the
  // engine. moatd answers a start a few ms after the process runs, so the shell can print
  // first; the terminal is resized only after moatd's `resize` event shows that the CLI's
  // first size arrived (resizing at the first prompt lost the resize 1 run in 15).
  const firstResize = join(d.root, 'first-resize');
  const since = String(Math.floor(Date.now() / 1000) - 1);
  const events = spawn(dockerCli()!, ['events', '--since', since, '--filter', 'event=resize', '--format', '{{.Actor.Attributes.name}} {{.Actor.Attributes.height}}x{{.Actor.Attributes.width}}'], { env: dockerEnv(d) });
  t.after(() => events.kill('SIGKILL'));
  let resizes = '';
  events.stdout.on('data', (c: Buffer) => {
    resizes += c.toString();
    if (resizes.includes('\n') && !existsSync(firstResize)) writeFileSync(firstResize, resizes);
  });
  const r = await onPty(d, ['run', '-it', '--rm', '--name', 'tty1', 'busybox', 'sh'], [
    ['expect', '# '],
    ['send', 'stty size; tty\r'],
    ['expect', '30 100'],
    ['expect', '/dev/pts/0'],
    ['wait-file', firstResize],
    ['sleep', 0.3],
    ['resize', 40, 120],
    ['sleep', 1],
    ['send', 'stty size\r'],
    ['expect', '40 120'],
    ['send', 'sleep 100\r'],
    ['sleep', 0.5],
    ['send', '\x03'],
    ['send', 'echo after-int-$?\r'],
    ['expect', 'after-int-130'],
    ['send', 'exit 7\r'],
  ]);
  assertExpectations(r);
  const ctrlC = r.results.find((x) => x.expect === 'after-int-130')!;
  assert.ok(ctrlC.secs < 5, 'Ctrl-C interrupted sleep 100 at once');
  assert.equal(r.exit, 7, r.out);
  assert.equal(await dockerOk(d, ['ps', '-aq']), '', '--rm removed it');
  assert.deepEqual(resizes.trim().split('\n'), ['tty1 30x100', 'tty1 40x120'], 'a resize event for each size the CLI sent');
});

test('moat run -it: the moat CLI sends the first size and every resize after it', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  if (!hasPython()) return t.skip('requires python3 for a pty');
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // No wait before the resize: the moat CLI listens for SIGWINCH before it sends the first size.
  const r = await onPty(d, [], [
    ['expect', '# '],
    ['resize', 40, 120],
    ['sleep', 1],
    ['send', 'stty size\r'],
    ['expect', '40 120'],
    ['resize', 25, 90],
    ['sleep', 1],
    ['send', 'stty size\r'],
    ['expect', '25 90'],
    ['send', 'exit 3\r'],
  ], [process.execPath, join(REPO, 'bin/moat'), 'run', '-it', '--rm', 'busybox', 'sh']);
  assertExpectations(r);
  assert.equal(r.exit, 3, r.out);
});

test('docker exec', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  await dockerOk(d, ['run', '-d', '--name', 'x1', 'busybox', 'sleep', '100']);

  await t.test('output, exit code, stdin', async () => {
    const r = await docker(d, ['exec', 'x1', 'sh', '-c', 'echo hi; echo oops >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.stderr, 'oops\n');
    const i = await docker(d, ['exec', '-i', 'x1', 'sh', '-c', 'cat; echo done'], { input: 'from-stdin\n' });
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout, 'from-stdin\ndone\n');
  });

  await t.test('env, user, workdir', async () => {
    const r = await docker(d, ['exec', '-e', 'A=1', '-u', '1000:1000', '-w', '/tmp', 'x1', 'sh', '-c', 'echo $A $(id -u):$(id -g) $(pwd)']);
    assert.equal(r.stdout, '1 1000:1000 /tmp\n', r.stderr);
  });

  await t.test('a missing command is 126 with the runtime message', async () => {
    const r = await docker(d, ['exec', 'x1', 'nosuchcmd']);
    assert.equal(r.code, 126);
    assert.match(r.stdout + r.stderr, /executable file not found/);
  });

  await t.test('exec -d runs in the background', async () => {
    const r = await docker(d, ['exec', '-d', 'x1', 'sh', '-c', 'echo bg > /tmp/bg']);
    assert.equal(r.code, 0, r.stderr);
    let got = '';
    for (let i = 0; i < 50 && got !== 'bg\n'; i++) {
      got = (await docker(d, ['exec', 'x1', 'cat', '/tmp/bg'])).stdout;
      if (got !== 'bg\n') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(got, 'bg\n');
  });

  await t.test('exec -it gets a terminal of the CLI size', async (tt) => {
    if (!hasPython()) return tt.skip('requires python3 for a pty');
    const r = await onPty(d, ['exec', '-it', 'x1', 'sh'], [['expect', '# '], ['send', 'stty size\r'], ['expect', '30 100'], ['send', 'exit 3\r']]);
    assertExpectations(r);
    assert.equal(r.exit, 3, r.out);
  });

  await t.test('exec on a stopped container is refused', async () => {
    await dockerOk(d, ['stop', '-t', '0', 'x1']);
    const r = await docker(d, ['exec', 'x1', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not running/);
  });
});
