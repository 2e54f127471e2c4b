// Container lifecycle verbs with the real docker CLI 28: ps filters, inspect, stop, kill,
// restart, pause, rm, rename, top, stats, export, diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, sleep, until } from './cli.js';

/** `HH:MM:SS` (or `DD-HH:MM:SS`) as seconds. */
function hmsSeconds(text: string): number {
  const [days, hms] = text.includes('-') ? [Number(text.split('-')[0]), text.split('-')[1]!] : [0, text];
  const [h, m, s] = hms.split(':').map(Number) as [number, number, number];
  return ((days * 24 + h) * 60 + m) * 60 + s;
}

test('ps and inspect', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const up = (await dockerOk(d, ['run', '-d', '--name', 'up1', '--label', 'tier=web', 'busybox', 'sleep', '100'])).trim();
  await docker(d, ['run', '--name', 'ex3', '--label', 'tier=db', 'busybox', 'sh', '-c', 'exit 3']);
  await dockerOk(d, ['create', '--name', 'cr1', 'busybox', 'true']);

  await t.test('ps shows running only; -a all, newest first, with Docker\'s columns', async () => {
    assert.equal((await dockerOk(d, ['ps', '-q'])).trim(), up.slice(0, 12));
    const names = (await dockerOk(d, ['ps', '-a', '--format', '{{.Names}}'])).trim().split('\n');
    assert.deepEqual(names, ['cr1', 'ex3', 'up1']);
    const table = await dockerOk(d, ['ps', '-a']);
    assert.match(table, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
    assert.match(table, /Exited \(3\) .* ago/);
    assert.match(table, /Up (Less than a second|\d+ seconds?)/);
    assert.match(table, /"sleep 100"/);
    assert.match(table, /\bCreated\b/);
  });

  await t.test('ps filters: status, name, id, label, ancestor, exited', async () => {
    const q = async (...f: string[]): Promise<string[]> =>
      (await dockerOk(d, ['ps', '-a', '--format', '{{.Names}}', ...f.flatMap((x) => ['--filter', x])])).trim().split('\n').filter((x) => x !== '').sort();
    assert.deepEqual(await q('status=exited'), ['ex3']);
    assert.deepEqual(await q('status=created'), ['cr1']);
    assert.deepEqual(await q('status=running'), ['up1']);
    assert.deepEqual(await q('name=up'), ['up1']);
    assert.deepEqual(await q(`id=${up.slice(0, 8)}`), ['up1']);
    assert.deepEqual(await q('label=tier'), ['ex3', 'up1']);
    assert.deepEqual(await q('label=tier=db'), ['ex3']);
    assert.deepEqual(await q('ancestor=busybox'), ['cr1', 'ex3', 'up1']);
    assert.deepEqual(await q('ancestor=nosuch'), []);
    assert.deepEqual(await q('exited=3'), ['ex3']);
    assert.deepEqual(await q('exited=0'), []);
    assert.deepEqual(await q('status=exited', 'label=tier=web'), [], 'keys are AND-ed');
    const bad = await docker(d, ['ps', '--filter', 'bogus=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'bogus'/);
    const badCode = await docker(d, ['ps', '-a', '--filter', 'exited=bogus']);
    assert.equal(badCode.code, 1);
    assert.match(badCode.stderr, /invalid filter 'exited=bogus'/);
    // -n / --last lists every state (dockerd: the newest, whatever it is), not only running ones.
    assert.equal((await dockerOk(d, ['ps', '-n', '1', '--format', '{{.Names}}'])).trim(), 'cr1');
    assert.deepEqual((await dockerOk(d, ['ps', '--last', '2', '--format', '{{.Names}}'])).trim().split('\n'), ['cr1', 'ex3']);
  });

  await t.test('inspect: state, config, templates, and the generic fallback chain', async () => {
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.State.ExitCode}} {{.State.Status}} {{.Name}}', 'ex3'])).trim(), '3 exited /ex3');
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Running}} {{.Config.Hostname}}', 'up1'])).trim(), `true ${up.slice(0, 12)}`);
    const [obj] = JSON.parse(await dockerOk(d, ['container', 'inspect', 'up1'])) as Array<{ Id: string; Config: { Labels: Record<string, string> }; State: { Pid: number } }>;
    assert.equal(obj!.Id, up);
    assert.equal(obj!.Config.Labels['tier'], 'web');
    assert.ok(obj!.State.Pid > 0);
    // The CLI sends ShmSize 0 and IpcMode '': inspect shows what was applied, as dockerd's.
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}} {{.HostConfig.Runtime}}', 'up1'])).trim(), '67108864 private runc');
    await dockerOk(d, ['create', '--name', 'shm1', '--shm-size', '8m', '--ipc', 'shareable', 'busybox', 'true']);
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}}', 'shm1'])).trim(), '8388608 shareable');
    await dockerOk(d, ['rm', 'shm1']);
    const img = JSON.parse(await dockerOk(d, ['inspect', 'busybox'])) as Array<{ Id: string }>;
    assert.match(img[0]!.Id, /^sha256:/, 'inspect falls through to images on a 404');
    const missing = await docker(d, ['inspect', 'nosuchthing']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such object: nosuchthing/);
  });
});

test('stop, kill, restart, pause, rename, rm', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const state = async (n: string): Promise<string> => (await dockerOk(d, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', n])).trim();

  await t.test('stop -t 1 ends a TERM-ignoring container with 137; stop again is a quiet success', async () => {
    await dockerOk(d, ['run', '-d', '--name', 's1', 'busybox', 'sh', '-c', "trap '' TERM; sleep 100 & wait"]);
    const t0 = Date.now();
    assert.equal((await dockerOk(d, ['stop', '-t', '1', 's1'])).trim(), 's1');
    assert.ok(Date.now() - t0 < 8000, 'stop honoured -t 1');
    assert.equal(await state('s1'), 'exited 137');
    const again = await docker(d, ['stop', 's1']);
    assert.equal(again.code, 0, 'the 304 counts as success');
    assert.equal(again.stdout.trim(), 's1');
  });

  await t.test('a stop waiting out its timeout keeps nothing waiting: rm -f ends the container at once; a pause meanwhile does not keep its SIGKILL from ending it', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'w1', 'busybox', 'sleep', '300']);
    const long = docker(d, ['stop', '-t', '60', 'w1']);
    await sleep(500);
    let t0 = Date.now();
    await dockerOk(d, ['rm', '-f', 'w1']);
    assert.ok(Date.now() - t0 < 10_000, `rm -f took ${Date.now() - t0} ms behind a stop -t 60`);
    const stopped = await long;
    assert.equal(stopped.code, 0, stopped.stderr);
    // The same behind a restart's stop: the restart then cannot start what is gone.
    await dockerOk(d, ['run', '-d', '--name', 'w3', 'busybox', 'sleep', '300']);
    const restart = docker(d, ['restart', '-t', '60', 'w3']);
    await sleep(500);
    t0 = Date.now();
    await dockerOk(d, ['rm', '-f', 'w3']);
    assert.ok(Date.now() - t0 < 10_000, `rm -f took ${Date.now() - t0} ms behind a restart -t 60`);
    const restarted = await restart;
    assert.notEqual(restarted.code, 0);
    assert.match(restarted.stderr, /marked for removal|No such container/);
    await dockerOk(d, ['run', '-d', '--name', 'w2', 'busybox', 'sleep', '300']);
    t0 = Date.now();
    const short = docker(d, ['stop', '-t', '2', 'w2']);
    await sleep(500);
    await dockerOk(d, ['pause', 'w2']);
    assert.ok(Date.now() - t0 < 2000, `pause took until ${Date.now() - t0} ms`);
    const done = await short;
    assert.equal(done.code, 0, done.stderr);
    assert.ok(Date.now() - t0 < 15_000, `the stop ended ${Date.now() - t0} ms after it began`);
    assert.equal(await state('w2'), 'exited 137');
  });

  await t.test('kill sends the signal as typed; killing a stopped container is a 409', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'k1', 'busybox', 'sh', '-c', "trap 'exit 42' HUP; while :; do sleep 0.1; done"]);
    await dockerOk(d, ['kill', '-s', 'HUP', 'k1']);
    await until(async () => (await state('k1')) === 'exited 42', 10_000, 'HUP exit');
    const r = await docker(d, ['kill', 'k1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot kill container: k1: Container [0-9a-f]{64} is not running/);
    await dockerOk(d, ['run', '-d', '--name', 'k2', 'busybox', 'sleep', '100']);
    await dockerOk(d, ['kill', 'k2']);
    assert.equal(await state('k2'), 'exited 137');
  });

  await t.test('restart gives a new process', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'r1', 'busybox', 'sleep', '100']);
    const pid1 = (await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'r1'])).trim();
    await dockerOk(d, ['restart', '-t', '1', 'r1']);
    const pid2 = (await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'r1'])).trim();
    assert.equal(await state('r1'), 'running 0');
    assert.notEqual(pid1, pid2);
  });

  await t.test('restart of a --rm container keeps it (as dockerd 20.10 does); stop then removes it', async () => {
    await dockerOk(d, ['run', '-d', '--rm', '--name', 'rr1', 'busybox', 'sleep', '100']);
    const pid1 = (await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'rr1'])).trim();
    await dockerOk(d, ['restart', '-t', '0', 'rr1']);
    assert.equal(await state('rr1'), 'running 0');
    assert.notEqual((await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'rr1'])).trim(), pid1);
    await dockerOk(d, ['stop', '-t', '0', 'rr1']);
    await until(async () => (await docker(d, ['inspect', 'rr1'])).code !== 0, 10_000, 'auto-removal after stop');
  });

  await t.test('pause freezes the processes, unpause thaws them', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'p1', 'busybox', 'sh', '-c', 'while :; do date +%s%N > /tmp/t; sleep 0.05; done']);
    await dockerOk(d, ['pause', 'p1']);
    assert.match(await dockerOk(d, ['ps', '--filter', 'name=p1', '--format', '{{.Status}}']), /\(Paused\)/);
    const pid = (await dockerOk(d, ['inspect', '-f', '{{.State.Pid}}', 'p1'])).trim();
    const stamp = (): string => readFileSync(`/proc/${pid}/root/tmp/t`, 'utf8');
    const frozen = stamp();
    await sleep(400);
    assert.equal(stamp(), frozen, 'no progress while paused');
    const ex = await docker(d, ['exec', 'p1', 'true']);
    assert.equal(ex.code, 1);
    assert.match(ex.stderr, /paused/);
    await dockerOk(d, ['unpause', 'p1']);
    assert.equal(await state('p1'), 'running 0');
    await until(async () => stamp() !== frozen, 5000, 'progress after unpause');
    const unp = await docker(d, ['unpause', 'p1']);
    assert.equal(unp.code, 1);
    assert.match(unp.stderr, /is not paused/);
  });

  await t.test('rename, then rm of a running container is refused and rm -f works', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'old1', 'busybox', 'sleep', '100']);
    await dockerOk(d, ['rename', 'old1', 'new1']);
    assert.equal((await dockerOk(d, ['ps', '--filter', 'name=new1', '--format', '{{.Names}}'])).trim(), 'new1');
    assert.equal((await docker(d, ['inspect', 'old1'])).code, 1);
    const rm = await docker(d, ['rm', 'new1']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
    assert.equal((await dockerOk(d, ['rm', '-f', 'new1'])).trim(), 'new1');
    const gone = await docker(d, ['rm', '-f', 'new1']);
    assert.equal(gone.code, 0, 'rm -f of a missing container prints the error but exits 0');
    assert.match(gone.stderr, /No such container: new1/);
    const miss = await docker(d, ['rm', 'nosuch']);
    assert.equal(miss.code, 1);
    await dockerOk(d, ['create', '--name', 'pr1', '--label', 'keep=no', 'busybox', 'true']);
    await dockerOk(d, ['create', '--name', 'pr2', '--label', 'keep=yes', 'busybox', 'true']);
    // until= takes a Go duration (the CLI passes it as typed): nothing is older than an hour.
    assert.doesNotMatch(await dockerOk(d, ['container', 'prune', '-f', '--filter', 'until=1h']), /[0-9a-f]{64}/);
    const pruned = await dockerOk(d, ['container', 'prune', '-f', '--filter', 'label=keep=no']);
    assert.match(pruned, /Deleted Containers:\n[0-9a-f]{64}\n/);
    const left = (await dockerOk(d, ['ps', '-a', '--format', '{{.Names}}'])).trim().split('\n');
    assert.ok(left.includes('pr2') && !left.includes('pr1') && left.includes('p1'), left.join(','));
  });
});

test('top, stats, export, diff', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  await dockerOk(d, ['run', '-d', '--name', 'busy1', 'busybox', 'sh', '-c', 'while :; do :; done']);
  await dockerOk(d, ['run', '-d', '--name', 'idle1', 'busybox', 'sleep', '100']);

  await t.test('top lists the container processes', async () => {
    const out = await dockerOk(d, ['top', 'idle1']);
    assert.match(out, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD/);
    assert.match(out, /sleep 100/);
    // The default columns are the host ps's (moby runs `ps -ef`): STIME was empty, C and TIME
    // fixed at 0 and 00:00:00. The busy loop has used CPU: TIME and C as ps -o prints them.
    // C is CPU over whole seconds alive: compared once the loop has run 5 s, when a second
    // ticking over between the two reads moves it little.
    const started = Date.parse((await dockerOk(d, ['inspect', 'busy1', '--format', '{{.State.StartedAt}}'])).trim());
    await sleep(Math.max(0, started + 5500 - Date.now()));
    const busy = (await d.api('GET', '/containers/busy1/top')).json<{ Processes: string[][] }>().Processes[0]!;
    const [, pid, , c, stime, tty, time] = busy;
    const ps = execFileSync('ps', ['-o', 'c=,stime=,tty=,time=', '-p', pid!], { encoding: 'utf8' }).trim().split(/\s+/);
    assert.deepEqual([stime, tty], [ps[1], ps[2]]);
    assert.ok(Math.abs(Number(c) - Number(ps[0])) <= 10, `C ${c} against ps ${ps[0]}`);
    assert.match(time!, /^\d\d:\d\d:\d\d$/);
    assert.ok(Math.abs(hmsSeconds(time!) - hmsSeconds(ps[3]!)) <= 1, `TIME ${time} against ps ${ps[3]}`);
    const custom = await dockerOk(d, ['top', 'idle1', '-o', 'pid,comm']);
    assert.deepEqual(custom.trim().split('\n').map((l) => l.trim().split(/\s+/)[1]), ['COMMAND', 'sleep'], 'ps_args, filtered to the container');
  });

  await t.test('stats --no-stream answers within 2 s with real CPU and memory numbers', async () => {
    const r = await docker(d, ['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', 'busy1', 'idle1']);
    assert.equal(r.code, 0, r.stderr);
    // The CLI gives up after 2 s; the daemon's part is timed alone (CLI start-up varies with load).
    const t0 = Date.now();
    const one = await d.api('GET', '/v1.47/containers/busy1/stats?stream=0');
    assert.equal(one.status, 200);
    assert.ok(Date.now() - t0 < 2000, `stats took ${Date.now() - t0} ms`);
    assert.notEqual(one.json<{ preread: string }>().preread, '0001-01-01T00:00:00Z', 'precpu is a real sample');
    const rows = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.split(' ')[0], l]));
    const cpu = Number(/ ([\d.]+)% /.exec(rows['busy1'] ?? '')?.[1]);
    assert.ok(cpu > 5, `a busy loop shows CPU: ${rows['busy1']}`);
    assert.match(rows['idle1'] ?? '', / 0\.\d\d% /);
    assert.match(rows['busy1'] ?? '', /\d+(\.\d+)?[KMG]iB \/ \d+(\.\d+)?[KMG]iB 1$/);
    const all = await docker(d, ['stats', '--no-stream', '--format', '{{.Name}}']);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.trim().split('\n').sort(), ['busy1', 'idle1']);
  });

  await t.test('stats streams one object per second through the API', async () => {
    const res = await new Promise<string[]>((resolve, reject) => {
      const lines: string[] = [];
      const http = import('node:http');
      void http.then(({ default: h }) => {
        const req = h.request({ socketPath: d.socket, path: '/v1.47/containers/busy1/stats', method: 'GET' }, (r) => {
          let buf = '';
          r.on('data', (c: Buffer) => {
            buf += c.toString();
            const parts = buf.split('\n');
            buf = parts.pop()!;
            lines.push(...parts.filter((x) => x !== ''));
            if (lines.length >= 2) {
              req.destroy();
              resolve(lines);
            }
          });
        });
        req.on('error', (e) => (lines.length >= 2 ? undefined : reject(e)));
        req.end();
      });
    });
    const [a, b] = res.map((l) => JSON.parse(l) as { read: string; preread: string; cpu_stats: { cpu_usage: { total_usage: number } } });
    assert.equal(b!.preread, a!.read, 'each object carries the previous sample');
    assert.ok(b!.cpu_stats.cpu_usage.total_usage > a!.cpu_stats.cpu_usage.total_usage);
  });

  await t.test('diff lists the changes, not runc\'s mount points', async () => {
    await dockerOk(d, ['exec', 'idle1', 'sh', '-c', 'echo x > /tmp/newfile; rm /bin/ls']);
    const lines = (await dockerOk(d, ['diff', 'idle1'])).trim().split('\n');
    assert.deepEqual(lines, ['C /bin', 'D /bin/ls', 'C /tmp', 'A /tmp/newfile']);
  });

  await t.test('export writes the rootfs as a tar, also for a stopped container', async () => {
    const dir = mkdtempSync('/tmp/mt-export-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await dockerOk(d, ['exec', 'idle1', 'sh', '-c', 'echo exported > /marker']);
    await dockerOk(d, ['export', '-o', join(dir, 'a.tar'), 'idle1']);
    const names = execFileSync('tar', ['-tf', join(dir, 'a.tar')], { encoding: 'utf8' }).split('\n');
    assert.ok(names.includes('bin/busybox'), 'the image content');
    assert.ok(names.includes('marker'), 'the container\'s own change');
    assert.ok(!names.includes('bin/ls'), 'deleted files stay deleted');
    assert.equal(execFileSync('tar', ['-xOf', join(dir, 'a.tar'), 'marker'], { encoding: 'utf8' }), 'exported\n');
    await dockerOk(d, ['stop', '-t', '0', 'idle1']);
    writeFileSync(join(dir, 'b.tar'), '');
    await dockerOk(d, ['export', '-o', join(dir, 'b.tar'), 'idle1']);
    assert.ok(execFileSync('tar', ['-tf', join(dir, 'b.tar')], { encoding: 'utf8' }).split('\n').includes('marker'));
    assert.equal((await dockerOk(d, ['start', 'idle1'])).trim(), 'idle1', 'the container starts again after an export');
  });
});
