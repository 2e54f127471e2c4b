// SIGKILL of moatd at random moments while clients create, run, stop, start and remove
// containers (some with anonymous volumes, some with a published port) in parallel; after each restart the full
// consistency check (./consistency.ts) must find nothing: records, runc, conmons, mounts,
// cgroups, bundles, volumes, exit files, temporary files, network endpoints, namespaces,
// veths, addresses and nat rules agree. Exits that happened while
// moatd was down keep their real code. Issue 12: the crash loop, and finding 7 (a crash
// during create with `-v /data` leaked anonymous volumes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requires } from '../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sleep, waitFor } from '../helpers/containers.js';
import { checkConsistency, networkWarnings, safetyNetHits } from './consistency.js';

const HEAVY = process.env['MOAT_FAULTS_HEAVY'] === '1';
const ROUNDS = Number(process.env['MOAT_CRASH_ROUNDS'] ?? (HEAVY ? 40 : 5));
const WORKERS = HEAVY ? 6 : 4;

/** A small deterministic PRNG (mulberry32), so a failing round can be replayed by its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One client doing random lifecycle operations until `stop()` says so; errors are expected (the daemon dies). */
async function worker(d: TestDaemon, rnd: () => number, stop: () => boolean, tag: string): Promise<void> {
  const mine: string[] = [];
  let n = 0;
  const call = (method: string, path: string, body?: unknown): Promise<{ status: number; id?: string }> =>
    d.api(method, path, body).then(
      (r) => ({ status: r.status, ...(r.status === 201 ? { id: r.json<{ Id: string }>().Id } : {}) }),
      () => ({ status: 0 }),
    );
  while (!stop()) {
    const pick = rnd();
    const target = mine.length > 0 ? mine[Math.floor(rnd() * mine.length)]! : undefined;
    if (pick < 0.35 || target === undefined) {
      // Short-lived, long-lived, and with an anonymous volume (finding 7).
      const kind = Math.floor(rnd() * 3);
      // Half of them under a --cgroup-parent, some sharing one: the check lists its levels.
      const parents = ['', 'cp/a', '/cp/a', 'cp/b/deep', ''];
      const cgroupParent = parents[Math.floor(rnd() * parents.length)]!;
      const body = {
        Image: 'busybox',
        Cmd: kind === 0 ? ['sh', '-c', 'sleep 0.2; exit 7'] : ['sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.1; done'],
        ...(kind === 2 ? { Volumes: { '/data': {} } } : {}),
        // Long-lived ones publish a random port: the crash check counts their rules too.
        HostConfig: {
          ...(kind === 1 ? { PortBindings: { '80/tcp': [{}] } } : {}),
          ...(cgroupParent !== '' ? { CgroupParent: cgroupParent } : {}),
        },
        ...(kind === 1 ? { ExposedPorts: { '80/tcp': {} } } : {}),
      };
      const r = await call('POST', `/containers/create?name=${tag}-${n++}`, body);
      if (r.id) {
        mine.push(r.id);
        if (rnd() < 0.7) await call('POST', `/containers/${r.id}/start`);
      }
    } else if (pick < 0.55) await call('POST', `/containers/${target}/start`);
    else if (pick < 0.7) await call('POST', `/containers/${target}/stop?t=1`);
    else if (pick < 0.8) await call('POST', `/containers/${target}/kill`);
    else if (pick < 0.9) {
      const r = await call('DELETE', `/containers/${target}?force=1&v=1`);
      if (r.status === 204) mine.splice(mine.indexOf(target), 1);
    } else await call('POST', `/containers/${target}/rename?name=${tag}-r${n++}`);
  }
}

test('SIGKILL of moatd during parallel operations leaves nothing inconsistent', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const seed = Number(process.env['MOAT_CRASH_SEED'] ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (MOAT_CRASH_SEED), ${ROUNDS} rounds (MOAT_CRASH_ROUNDS), ${WORKERS} workers`);
  const rnd = prng(seed);
  let checked = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let stopped = false;
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(d, prng(seed * 31 + round * 7 + w), () => stopped, `c${round}w${w}`));
    await sleep(150 + Math.floor(rnd() * 900));
    await d.kill();
    stopped = true;
    await Promise.all(workers);
    // Containers keep running and exiting while moatd is down.
    await sleep(Math.floor(rnd() * 400));
    await d.start();
    // Let exits seen at startup and the first monitor scans finish.
    await waitFor('no container in transition', async () => {
      const r = await d.api('GET', '/containers/json?all=1');
      return r.status === 200 && !r.json<Array<{ State: string }>>().some((c) => c.State === 'removing' || c.State === 'restarting');
    }, 10_000);
    await sleep(300);
    const problems = await checkConsistency(d);
    assert.deepEqual(problems, [], `round ${round} (seed ${seed}): the state after a crash is consistent${problems.length > 0 ? `\n${networkWarnings(d).join('\n')}` : ''}`);
    checked += (await d.api('GET', '/containers/json?all=1')).json<unknown[]>().length;
    // Exits while down carry their real code: every exited container shows 7, 3 (TERM), 137 (kill) or a start failure's.
    const list = (await d.api('GET', '/containers/json?all=1')).json<Array<{ Id: string; State: string }>>();
    for (const c of list.filter((x) => x.State === 'exited')) {
      const code = (await d.api('GET', `/containers/${c.Id}/json`)).json<{ State: { ExitCode: number } }>().State.ExitCode;
      assert.ok([7, 3, 137, 143, 126, 127, 128].includes(code), `round ${round}: ${c.Id.slice(0, 12)} exited ${code}`);
    }
  }
  t.diagnostic(`${ROUNDS} crashes, ${checked} container records checked`);
  // Everything can be removed afterwards, and that leaves nothing either.
  const list = (await d.api('GET', '/containers/json?all=1')).json<Array<{ Id: string }>>();
  for (const c of list) assert.equal((await d.api('DELETE', `/containers/${c.Id}?force=1&v=1`)).status, 204);
  assert.deepEqual(await checkConsistency(d), []);
  assert.deepEqual(safetyNetHits(d), [], 'nothing reached the safety net');
});

test('a create interrupted by a crash leaves no volume behind (issue 12, finding 7)', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const kept = await d.api('POST', '/containers/create?name=kept', { Image: 'busybox', Cmd: ['true'], Volumes: { '/data': {} } });
  assert.equal(kept.status, 201);
  const keptVolumes = readdirSync(join(d.dataRoot, 'volumes'));
  assert.equal(keptVolumes.length, 1);
  await d.kill();
  // What a SIGKILL between "volume made" and "record written" leaves: the container's
  // directory with the list of volumes it was making, the volumes (one complete, one
  // half-made), no record.
  const id = randomBytes(32).toString('hex');
  const dir = join(d.dataRoot, 'containers', id);
  for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, sub), { recursive: true });
  const made = randomBytes(32).toString('hex');
  const half = randomBytes(32).toString('hex');
  writeFileSync(join(dir, 'create-volumes.json'), JSON.stringify([made, half]));
  mkdirSync(join(d.dataRoot, 'volumes', made, '_data'), { recursive: true });
  writeFileSync(join(d.dataRoot, 'volumes', made, 'volume.json'), JSON.stringify({ Name: made, Driver: 'local', CreatedAt: '2026-01-01T00:00:00Z', Labels: {}, Options: {}, Anonymous: true }));
  mkdirSync(join(d.dataRoot, 'volumes', half, '_data'), { recursive: true });
  // A named volume's half-made directory too (created through the API when the crash hit).
  mkdirSync(join(d.dataRoot, 'volumes', 'named-half', '_data'), { recursive: true });
  await d.start();
  assert.ok(!existsSync(dir), 'the unfinished create is gone');
  assert.deepEqual(readdirSync(join(d.dataRoot, 'volumes')).sort(), keptVolumes, 'only the finished container\'s volume is left');
  const vols = (await d.api('GET', '/volumes')).json<{ Volumes: Array<{ Name: string }> }>().Volumes.map((v) => v.Name);
  assert.deepEqual(vols, keptVolumes);
  assert.deepEqual(await checkConsistency(d), []);
});
