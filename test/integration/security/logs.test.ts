// Issue 11 finding 5 and issue 16 (logging): one `docker logs` must not wedge the daemon,
// logs are capped and rotated, and what moat cannot honour is refused.
//
// The 1 GB log is written by a real container (`yes | head -c …` through conmon, ~7 s on
// this machine), not synthesized.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, dockerPy, sleep } from '../compat/cli.js';

function rssMiB(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** File descriptors moatd holds on a container's log files. */
function openLogFds(d: TestDaemon, id: string): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${d.pid()}/fd`)) {
    try {
      if (readlinkSync(`/proc/${d.pid()}/fd/${fd}`).includes(`${id}/ctr.log`)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** GET a log stream over the socket; reads (and drops) everything, or stops after `abortAfterMs` paused. */
function rawLogs(d: TestDaemon, path: string, o: { pauseAndAbortAfterMs?: number } = {}): Promise<{ bytes: number; ms: number; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let bytes = 0;
    const req = http.request({ socketPath: d.socket, method: 'GET', path }, (res) => {
      if (o.pauseAndAbortAfterMs !== undefined) {
        res.pause();
        setTimeout(() => {
          req.destroy();
          resolve({ bytes, ms: Date.now() - t0, aborted: true });
        }, o.pauseAndAbortAfterMs);
        return;
      }
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ bytes, ms: Date.now() - t0, aborted: false }));
      res.on('error', reject);
    });
    req.on('error', (err) => (o.pauseAndAbortAfterMs !== undefined ? undefined : reject(err)));
    req.end();
  });
}

const logFiles = (d: TestDaemon, id: string): string[] => readdirSync(join(d.dataRoot, 'containers', id)).filter((n) => n.startsWith('ctr.log')).sort();

test('issue 11.5: a 1 GB log - docker logs --tail 1 answers in < 1 s, docker ps keeps answering, moatd memory stays bounded', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // 24,000,000 lines of "y": ~1.1 GB in conmon's format (a header of ~37 bytes per line).
  const id = (await dockerOk(d, ['run', '-d', '--log-opt', 'max-size=2g', '--log-opt', 'max-file=1', 'busybox', 'sh', '-c', 'yes | head -c 48000000; echo END'])).trim();
  await dockerOk(d, ['wait', id], { timeoutMs: 120_000 });
  const size = statSync(join(d.dataRoot, 'containers', id, 'ctr.log')).size;
  assert.ok(size > 1_000_000_000, `the log is over 1 GB (${size} bytes)`);
  const before = rssMiB(d.pid());

  // A full read streams the whole log while other clients are served.
  const full = rawLogs(d, `/containers/${id}/logs?stdout=1&stderr=1`);
  await sleep(300);
  const tail = await docker(d, ['logs', '--tail', '1', id]);
  assert.equal(tail.code, 0, tail.stderr);
  assert.equal(tail.stdout, 'END\n');
  assert.ok(tail.ms < 1000, `docker logs --tail 1 took ${tail.ms} ms`);
  const psTimes: number[] = [];
  let reading = true;
  void full.finally(() => (reading = false));
  while (reading && psTimes.length < 20) {
    const ps = await docker(d, ['ps', '-a', '--format', '{{.ID}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout.trim(), id.slice(0, 12));
    psTimes.push(ps.ms);
    await sleep(200);
  }
  const done = await full;
  // 24,000,001 frames of 8 + 2 bytes ("y\n"), the last "END\n".
  assert.equal(done.bytes, 24_000_000 * 10 + 8 + 4, 'every line arrived, in frames');
  assert.ok(psTimes.length > 0 && Math.max(...psTimes) < 1000, `docker ps during the full read: ${psTimes.join(', ')} ms`);

  // A client that stops reading and goes away: the read ends and its files are closed.
  const gone = await rawLogs(d, `/containers/${id}/logs?stdout=1&stderr=1&timestamps=1`, { pauseAndAbortAfterMs: 1000 });
  assert.equal(gone.aborted, true);
  let fds = openLogFds(d, id);
  for (let i = 0; i < 50 && fds > 0; i++) {
    await sleep(100);
    fds = openLogFds(d, id);
  }
  assert.equal(fds, 0, 'moatd closed the log files when the client left');

  const after = rssMiB(d.pid());
  t.diagnostic(`log ${size} bytes; tail ${tail.ms} ms; full read ${done.ms} ms; docker ps max ${Math.max(...psTimes)} ms; moatd RSS ${before.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB, peak ${after.peak.toFixed(0)} MiB`);
  assert.ok(after.peak - before.rss < 200, `moatd's peak RSS grew by ${(after.peak - before.rss).toFixed(0)} MiB reading a ${size}-byte log`);
  assert.equal((await d.api('GET', '/_ping')).status, 200);
});

/** A container printing `line-N` for N in [0, count), in batches with pauses (a steady writer). */
const writer = (count: number, batch = 50, pause = '0.02'): string[] => [
  'sh', '-c', `i=0; while [ $i -lt ${count} ]; do j=0; while [ $j -lt ${batch} ] && [ $i -lt ${count} ]; do echo "line-$i-0123456789012345678901234567890123456789"; i=$((i+1)); j=$((j+1)); done; sleep ${pause}; done; echo END`,
];

function lineNumbers(text: string): number[] {
  return text.trim().split('\n').filter((l) => l !== 'END').map((l) => Number(/^line-(\d+)-/.exec(l)?.[1] ?? NaN));
}

test('issue 16: logs rotate at max-size, max-file files are kept, and docker logs reads across them', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('max-file=3: the last 3 files are kept, each under max-size, and docker logs shows their lines in order', async () => {
    const id = (await dockerOk(d, ['run', '-d', '--log-opt', 'max-size=64k', '--log-opt', 'max-file=3', 'busybox', ...writer(6000)])).trim();
    await dockerOk(d, ['wait', id], { timeoutMs: 60_000 });
    const files = logFiles(d, id).filter((n) => /^ctr\.log(\.\d+)?$/.test(n));
    assert.deepEqual(files, ['ctr.log', 'ctr.log.1', 'ctr.log.2']);
    for (const f of files) assert.ok(statSync(join(d.dataRoot, 'containers', id, f)).size <= 64_000, `${f} is at most max-size`);
    const all = await dockerOk(d, ['logs', id]);
    const nums = lineNumbers(all);
    assert.ok(nums[0]! > 0, 'the oldest lines were rotated out');
    assert.equal(nums.at(-1), 5999);
    assert.deepEqual(nums, Array.from({ length: nums.length }, (_v, i) => nums[0]! + i), 'no line missing or repeated across the files');
    assert.ok(all.endsWith('END\n'));
    assert.equal(await dockerOk(d, ['logs', '--tail', '3', id]), 'line-5998-0123456789012345678901234567890123456789\nline-5999-0123456789012345678901234567890123456789\nEND\n');
    const insp = JSON.parse(await dockerOk(d, ['inspect', id])) as Array<{ HostConfig: { LogConfig: unknown } }>;
    assert.deepEqual(insp[0]!.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '64k', 'max-file': '3' } });
  });

  await t.test('everything that fits in max-file files is there, and a follower sees every line across rotations', async () => {
    const id = (await dockerOk(d, ['run', '-d', '--log-opt', 'max-size=32k', '--log-opt', 'max-file=20', 'busybox', ...writer(4000, 40, '0.05')])).trim();
    const followed = docker(d, ['logs', '-f', id], { timeoutMs: 60_000 });
    await dockerOk(d, ['wait', id], { timeoutMs: 60_000 });
    const f = await followed;
    assert.equal(f.code, 0, f.stderr);
    const want = Array.from({ length: 4000 }, (_v, i) => i);
    assert.deepEqual(lineNumbers(f.stdout), want, 'the follower got every line once');
    assert.ok(logFiles(d, id).filter((n) => /^ctr\.log\.\d+$/.test(n)).length >= 4, 'the log rotated several times');
    assert.deepEqual(lineNumbers(await dockerOk(d, ['logs', id])), want);
  });

  await t.test('a follower that goes away ends its read and releases the log files', async () => {
    const id = (await dockerOk(d, ['run', '-d', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.1; done'])).trim();
    const gone = await rawLogs(d, `/containers/${id}/logs?stdout=1&stderr=1&follow=1`, { pauseAndAbortAfterMs: 800 });
    assert.equal(gone.aborted, true);
    let fds = openLogFds(d, id);
    for (let i = 0; i < 50 && fds > 0; i++) {
      await sleep(100);
      fds = openLogFds(d, id);
    }
    assert.equal(fds, 0, 'the follower\'s files are closed');
    await dockerOk(d, ['rm', '-f', id]);
  });

  await t.test('a restarted container appends, and the cap still holds', async () => {
    const id = (await dockerOk(d, ['create', '--log-opt', 'max-size=64k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'echo run-$(date +%s%N)'])).trim();
    await dockerOk(d, ['start', '-a', id]);
    await dockerOk(d, ['start', '-a', id]);
    const out = (await dockerOk(d, ['logs', id])).trim().split('\n');
    assert.equal(out.length, 2);
    assert.ok(out.every((l) => l.startsWith('run-')));
  });
});

test('issue 16: 8k log files rotating every few bursts lose no line while moatd runs', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // ~35 rotations in a few seconds, so conmon rotates while the keeper's passes run (the
  // races of src/engine/log-files.test.ts, with the real conmon); max-file keeps every file.
  // A file takes >= 80 ms to fill: the keeper's bound (three rotations between two passes)
  // would need moatd to stall for 240 ms.
  const id = (await dockerOk(d, ['run', '-d', '--log-opt', 'max-size=8k', '--log-opt', 'max-file=100', 'busybox', ...writer(3000, 10, '0.01')])).trim();
  await dockerOk(d, ['wait', id], { timeoutMs: 60_000 });
  const nums = lineNumbers(await dockerOk(d, ['logs', id]));
  const missing = Array.from({ length: 3000 }, (_v, i) => i).filter((i) => !nums.includes(i));
  assert.equal(missing.length, 0, `${missing.length} lines missing, from ${missing[0]} to ${missing.at(-1)}`);
  assert.deepEqual(nums, Array.from({ length: 3000 }, (_v, i) => i), 'every line once, in order');
  const rotated = logFiles(d, id).filter((n) => /^ctr\.log\.\d+$/.test(n)).length;
  assert.ok(rotated >= 25, `the log rotated ${rotated} times`);
});

test('issue 16: log drivers and options moat cannot honour are refused with a 400 naming them', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const cases: Array<[string[], RegExp]> = [
    [['--log-driver', 'syslog'], /logging driver "syslog" is not supported by moat/],
    [['--log-opt', 'max-size=abc'], /invalid max-size "abc"/],
    [['--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
    [['--log-opt', 'compress=true'], /compress=true is not supported by moat/],
    [['--log-opt', 'labels=com.example'], /log opt 'labels' is not supported by moat/],
    [['--log-opt', 'tag={{.Name}}'], /log opt 'tag' is not supported by moat/],
    [['--log-driver', 'local', '--log-opt', 'env=FOO'], /unknown log opt 'env' for local log driver/],
  ];
  for (const [args, re] of cases) {
    const r = await docker(d, ['run', ...args, 'busybox', 'true']);
    assert.equal(r.code, 125, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
  }
  assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'nothing was created');
  // The passing case of the same table: what moat honours is accepted.
  const ok = await docker(d, ['create', '--log-driver', 'local', '--log-opt', 'max-size=1m', '--log-opt', 'compress=false', 'busybox', 'true']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('issue 16: --log-driver none keeps no log: attach still works, docker logs is refused as dockerd does', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const run = await docker(d, ['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'echo', 'hello']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hello\n');
  const logs = await docker(d, ['logs', 'quiet']);
  assert.notEqual(logs.code, 0);
  assert.match(logs.stderr, /configured logging driver does not support reading/);
  const insp = JSON.parse(await dockerOk(d, ['inspect', 'quiet'])) as Array<{ LogPath: string; HostConfig: { LogConfig: unknown } }>;
  assert.deepEqual(insp[0]!.HostConfig.LogConfig, { Type: 'none', Config: {} });
  assert.equal(insp[0]!.LogPath, '');
  const id = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'quiet'])).trim();
  assert.deepEqual(logFiles(d, id), [], 'conmon wrote no log file');
});

test('issue 16: the daemon\'s --log-driver / --log-opt and daemon.json log-opts are the defaults; bad ones stop moatd', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon({ args: ['--log-driver', 'local', '--log-opt', 'max-size=1m'] });
  t.after(() => d.cleanup());
  const id = (await dockerOk(d, ['create', 'busybox', 'true'])).trim();
  const insp = JSON.parse(await dockerOk(d, ['inspect', id])) as Array<{ HostConfig: { LogConfig: unknown } }>;
  assert.deepEqual(insp[0]!.HostConfig.LogConfig, { Type: 'local', Config: { 'max-size': '1m', 'max-file': '5' } });
  assert.equal((await dockerOk(d, ['info', '-f', '{{.LoggingDriver}}'])).trim(), 'local');

  const cfg = join(d.root, 'daemon.json');
  writeFileSync(cfg, JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-size': '5m', 'max-file': '2' } }));
  const d2 = await startDaemon({ args: ['--config-file', cfg] });
  t.after(() => d2.cleanup());
  const id2 = (await dockerOk(d2, ['create', 'busybox', 'true'])).trim();
  const insp2 = JSON.parse(await dockerOk(d2, ['inspect', id2])) as Array<{ HostConfig: { LogConfig: unknown } }>;
  assert.deepEqual(insp2[0]!.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '2' } });

  await assert.rejects(startDaemon({ args: ['--log-opt', 'max-size=huge'] }), /invalid max-size "huge"/);
});

test('issue 16: docker-py containers.run(image, cmd) returns the output (LogConfig.Type is json-file)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  if (!requires(t, 'docker-py')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const script = [
    'import docker, json',
    'c = docker.from_env()',
    "out = c.containers.run('busybox', ['sh', '-c', 'echo hello; echo world'], remove=False)",
    "ctr = c.containers.list(all=True)[0]",
    "print(json.dumps({'out': out.decode() if out is not None else None, 'type': ctr.attrs['HostConfig']['LogConfig']['Type']}))",
  ].join('\n');
  const r = await dockerPy(d, script);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { out: 'hello\nworld\n', type: 'json-file' });
});
