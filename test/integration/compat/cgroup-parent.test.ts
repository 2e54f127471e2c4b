// `docker run --cgroup-parent X` (issue 16 item 6): the container's cgroup is
// `<moatd's cgroup>/<daemon --cgroup-parent>/<X>/<id>` in every hierarchy, relative or
// absolute X alike (never outside moat's cgroup); limits, `docker update`, the OOM and pids
// watchers, stats, top and live restore follow it; rm removes the X levels when their last
// container goes; a crash's leftovers go at the next start; bad names are a 400 (exit 125).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { cgroupDirsOf, startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk, sleep, until } from './cli.js';

/** The daemon's parent directory in one v1 controller (this machine is hybrid), whether it exists or not. */
function controllerDir(d: TestDaemon, controller: 'pids' | 'memory' | 'cpu'): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `this process is in a ${controller} cgroup`);
  const [, ctrls, path] = line.split(':') as [string, string, string];
  return join('/sys/fs/cgroup', ctrls, path, d.cgroupParent);
}

/** The controller's line of /proc/<pid>/cgroup. */
function procCgroup(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  assert.ok(line, `/proc/${pid}/cgroup has a ${controller} line`);
  return line.split(':').slice(2).join(':');
}

async function inspectState(d: TestDaemon, name: string): Promise<{ Id: string; Pid: number; ExitCode: number; OOMKilled: boolean; Status: string; CgroupParent: string }> {
  const out = await dockerOk(d, ['inspect', name, '--format', '{{json .}}']);
  const v = JSON.parse(out) as { Id: string; State: { Pid: number; ExitCode: number; OOMKilled: boolean; Status: string }; HostConfig: { CgroupParent: string } };
  return { Id: v.Id, ...v.State, CgroupParent: v.HostConfig.CgroupParent };
}

async function eventsOf(d: TestDaemon, since: number, action: string, id: string): Promise<Record<string, string> | undefined> {
  for (let i = 0; i < 50; i++) {
    const ev = await d.api('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ event: { [action]: true } }))}`);
    const hit = ev.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { Actor: { ID: string; Attributes: Record<string, string> } }).find((e) => e.Actor.ID === id);
    if (hit) return hit.Actor.Attributes;
    await sleep(200);
  }
  return undefined;
}

const HOG = 'x=a; while true; do x=$x$x; done';

test('--cgroup-parent', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('the cgroup is <moat parent>/a/b/<id> in pids and memory; limits, update, stats and top follow it', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'nested', '--cgroup-parent', 'a/b', '-m', '32m', '--pids-limit', '40', '--cpus', '0.5', 'busybox', 'sleep', '600']);
    const s = await inspectState(d, 'nested');
    assert.equal(s.CgroupParent, 'a/b', 'inspect shows what the user gave');
    for (const controller of ['pids', 'memory', 'cpu'] as const) {
      assert.ok(procCgroup(s.Pid, controller).endsWith(`/${d.cgroupParent}/a/b/${s.Id}`), `${controller}: ${procCgroup(s.Pid, controller)}`);
      assert.ok(existsSync(join(controllerDir(d, controller), 'a/b', s.Id)), `${controller} dir exists`);
    }
    const pidsDir = join(controllerDir(d, 'pids'), 'a/b', s.Id);
    const memDir = join(controllerDir(d, 'memory'), 'a/b', s.Id);
    assert.equal(readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim(), '40');
    const cpuDir = join(controllerDir(d, 'cpu'), 'a/b', s.Id);
    assert.equal(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim(), String(32 << 20));
    assert.equal(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    await dockerOk(d, ['update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '30', '--cpus', '0.25', 'nested']);
    assert.equal(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim(), '25000');
    assert.equal(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 << 20), 'docker update changed the nested cgroup');
    assert.equal(readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim(), '30');
    const stats = JSON.parse((await d.api('GET', '/containers/nested/stats?stream=false')).body.toString()) as { memory_stats: { limit?: number }; pids_stats: { current?: number; limit?: number } };
    assert.equal(stats.memory_stats.limit, 64 << 20, 'stats read the nested memory cgroup');
    assert.equal(stats.pids_stats.limit, 30, 'stats read the nested pids cgroup');
    assert.match(await dockerOk(d, ['top', 'nested']), /sleep 600/);
    await dockerOk(d, ['rm', '-f', 'nested']);
    for (const controller of ['pids', 'memory'] as const) assert.equal(existsSync(join(controllerDir(d, controller), 'a')), false, `${controller}: rm removed a/b and a`);
  });

  await t.test('a second container under the same parent (absolute spelling) keeps it until it is removed', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'first', '--cgroup-parent', 'shared/p', 'busybox', 'sleep', '600']);
    await dockerOk(d, ['run', '--name', 'second', '--cgroup-parent', '/shared/p', 'busybox', 'true']);
    const first = await inspectState(d, 'first');
    assert.ok(procCgroup(first.Pid, 'pids').endsWith(`/${d.cgroupParent}/shared/p/${first.Id}`));
    await dockerOk(d, ['rm', '-f', 'first']);
    const pids = controllerDir(d, 'pids');
    assert.ok(existsSync(join(pids, 'shared/p')), 'the stopped second container keeps shared/p');
    await dockerOk(d, ['start', '-a', 'second']);
    await dockerOk(d, ['rm', 'second']);
    assert.equal(existsSync(join(pids, 'shared')), false, 'the last container\'s rm removed shared/p and shared');
  });

  await t.test('containers removed at once under one parent leave no level behind', async () => {
    // Exited ones (their removal is quick, so the removals overlap) and running ones.
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      await dockerOk(d, ['run', ...(i < 2 ? ['-d'] : []), '--name', `par${i}`, '--cgroup-parent', i % 2 === 0 ? 'par/x' : '/par/x', 'busybox', ...(i < 2 ? ['sleep', '600'] : ['true'])]);
      ids.push((await inspectState(d, `par${i}`)).Id);
    }
    const codes = await Promise.all(ids.map(async (id) => (await d.api('DELETE', `/containers/${id}?force=1`)).status));
    assert.deepEqual(codes, ids.map(() => 204));
    for (const c of ['pids', 'memory'] as const) assert.equal(existsSync(join(controllerDir(d, c), 'par')), false, `${c}: par is gone`);
  });

  await t.test('an OOM kill under a custom parent reports OOMKilled and an oom event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await docker(d, ['run', '--name', 'hog', '--cgroup-parent', 'oomp', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', HOG], { timeoutMs: 60_000 });
    assert.equal(r.code, 137, r.stderr);
    const s = await inspectState(d, 'hog');
    assert.equal(s.OOMKilled, true);
    assert.ok(await eventsOf(d, since, 'oom', s.Id), 'an oom event');
    await dockerOk(d, ['rm', 'hog']);
  });

  await t.test('a fork bomb under a custom parent stops at the pids limit, with a pids-limit event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await dockerOk(d, ['run', '-d', '--name', 'bomb', '--cgroup-parent', 'bombs/x', '--pids-limit', '32', 'busybox', 'sh', '-c', 'f(){ f|f& }; f; sleep 600']);
    const s = await inspectState(d, 'bomb');
    const dir = join(controllerDir(d, 'pids'), 'bombs/x', s.Id);
    let peak = 0;
    const refused = await until(async () => {
      peak = Math.max(peak, Number(readFileSync(join(dir, 'pids.current'), 'utf8')));
      const n = Number(/max (\d+)/.exec(readFileSync(join(dir, 'pids.events'), 'utf8'))?.[1] ?? 0);
      return n > 0 ? n : undefined;
    }, 15_000, 'forks refused');
    assert.ok(refused > 0);
    assert.ok(peak <= 32, `never more than 32 tasks (saw ${peak})`);
    const ev = await eventsOf(d, since, 'pids-limit', s.Id);
    assert.ok(ev, 'a pids-limit event');
    assert.equal(ev['limit'], '32');
    await dockerOk(d, ['rm', '-f', 'bomb']);
    assert.equal(existsSync(join(controllerDir(d, 'pids'), 'bombs')), false);
  });

  await t.test('moat\'s own CLI: run --cgroup-parent', async () => {
    const r = await d.moat(['run', '--rm', '--cgroupns', 'host', '--cgroup-parent', 'viamoat', 'busybox', 'cat', '/proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    const pidsLine = r.stdout.split('\n').find((l) => l.split(':')[1] === 'pids');
    assert.match(pidsLine ?? '', new RegExp(`/${d.cgroupParent}/viamoat/[0-9a-f]{64}$`));
    const bad = await d.moat(['run', '--rm', '--cgroup-parent', 'a/../..', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /HostConfig\.CgroupParent "a\/\.\.\/\.\.": "\.\." is not allowed/);
  });

  await t.test('refusals: a 400 naming the field, exit 125 from the CLI, nothing created', async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length;
    const cli = await docker(d, ['run', '--rm', '--cgroup-parent', '../escape', 'busybox', 'true']);
    assert.equal(cli.code, 125, cli.stderr);
    assert.match(cli.stderr, /HostConfig\.CgroupParent "\.\.\/escape": "\.\." is not allowed/);
    const slice = await docker(d, ['run', '-d', '--cgroup-parent', 'system.slice', 'busybox', 'true']);
    assert.equal(slice.code, 125, slice.stderr);
    assert.match(slice.stderr, /systemd slice/);
    for (const bad of ['/../../x', 'a/../../x', 'a//b', 'a/', 'a\nb', 'a\0b', 'x'.repeat(256), 'tasks', 'cgroup.procs', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']) {
      const r = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { CgroupParent: bad } });
      assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.body.toString()}`);
      assert.match(r.json<{ message: string }>().message, /^HostConfig\.CgroupParent /);
    }
    assert.equal((await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length, before);
    for (const dir of cgroupDirsOf(d.cgroupParent)) assert.equal(existsSync(join(dir, 'x')), false);
  });

  await t.test('live restore: after a moatd crash the nested container is found, still OOM-watched, and rm cleans up', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'lr', '--cgroup-parent', 'lr/x', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', `while [ ! -e /tmp/go ]; do sleep 0.1; done; ${HOG}`]);
    await d.kill();
    await d.start();
    const before = await inspectState(d, 'lr');
    assert.equal(before.Status, 'running');
    await dockerOk(d, ['update', '--pids-limit', '25', 'lr']);
    assert.equal(readFileSync(join(controllerDir(d, 'pids'), 'lr/x', before.Id, 'pids.max'), 'utf8').trim(), '25');
    await dockerOk(d, ['exec', 'lr', 'touch', '/tmp/go']);
    const code = (await dockerOk(d, ['wait', 'lr'], { timeoutMs: 60_000 })).trim();
    assert.equal(code, '137');
    assert.equal((await inspectState(d, 'lr')).OOMKilled, true, 'the restored watcher read the nested memory cgroup');
    await dockerOk(d, ['rm', 'lr']);
    assert.equal(existsSync(join(controllerDir(d, 'pids'), 'lr')), false);
  });

  await t.test('a restart removes CgroupParent levels a crash left, and keeps those a container names', async () => {
    await dockerOk(d, ['run', '--name', 'keeper', '--cgroup-parent', 'kept/lvl', 'busybox', 'true']);
    // What a crash between a removal's record and its cgroup cleanup leaves: empty levels.
    for (const c of ['pids', 'memory'] as const) mkdirSync(join(controllerDir(d, c), 'stale/deeper'), { recursive: true });
    await d.kill();
    await d.start();
    for (const c of ['pids', 'memory'] as const) {
      assert.equal(existsSync(join(controllerDir(d, c), 'stale')), false, `${c}: the stale levels are gone`);
      assert.ok(existsSync(join(controllerDir(d, c), 'kept/lvl')), `${c}: the stopped container's parent stays`);
    }
    await dockerOk(d, ['rm', 'keeper']);
    assert.equal(existsSync(join(controllerDir(d, 'pids'), 'kept')), false);
  });
});

test('moatd refuses a daemon --cgroup-parent with . or .. components (it would leave moatd\'s own cgroup)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  for (const bad of ['moat/../..', './x', 'a/.']) {
    await assert.rejects(startDaemon({ args: ['--cgroup-parent', bad] }), new RegExp(`invalid --cgroup-parent: ${bad.replaceAll('.', '\\.')}`));
  }
});
