// Images (import, tag, inspect, history, rmi), local volumes, and the event stream with the
// real docker CLI 28.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { requires, dockerCli } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerEnv, dockerOk, sleep } from './cli.js';

function rootfsTar(dir: string): string {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  for (const a of ['sh', 'cat', 'echo', 'true']) symlinkSync('busybox', join(root, 'bin', a));
  const tar = join(dir, 'rootfs.tar');
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  return tar;
}

test('images: import, tag, inspect, history, rmi', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = mkdtempSync('/tmp/mt-img-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tar = rootfsTar(dir);

  await t.test('import from a file and from stdin with changes; the image runs', async () => {
    const id = (await dockerOk(d, ['import', tar, 'imp:v1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await dockerOk(d, ['run', '--rm', 'imp:v1', '/bin/sh', '-c', 'echo imported'])).trim(), 'imported');
    const r = await docker(d, ['import', '-c', 'CMD ["/bin/sh","-c","echo $A"]', '-c', 'ENV A=from-env', '-m', 'my msg', '-', 'imp:v2'], { input: readFileSync(tar) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await dockerOk(d, ['run', '--rm', 'imp:v2'])).trim(), 'from-env');
    const [info] = JSON.parse(await dockerOk(d, ['image', 'inspect', 'imp:v2'])) as Array<{ Comment: string; Config: { Env: string[] }; RepoTags: string[] }>;
    assert.equal(info!.Comment, 'my msg');
    assert.ok(info!.Config.Env.includes('A=from-env'));
    assert.deepEqual(info!.RepoTags, ['imp:v2']);
  });

  await t.test('images lists repository and tag; tag adds a name; rmi untags then deletes', async () => {
    await dockerOk(d, ['tag', 'imp:v1', 'myrepo/app:1.0']);
    const list = (await dockerOk(d, ['images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n').sort();
    assert.deepEqual(list, ['busybox:latest', 'imp:v1', 'imp:v2', 'myrepo/app:1.0']);
    assert.match(await dockerOk(d, ['images']), /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
    const hist = await dockerOk(d, ['history', 'imp:v1']);
    assert.match(hist, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/m);
    assert.equal((await dockerOk(d, ['rmi', 'myrepo/app:1.0'])).trim(), 'Untagged: myrepo/app:1.0');
    const rmi = await dockerOk(d, ['rmi', 'imp:v2']);
    assert.match(rmi, /^Untagged: imp:v2$/m);
    assert.match(rmi, /^Deleted: sha256:[0-9a-f]{64}$/m);
    const missing = await docker(d, ['rmi', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such image: nosuch:latest/);
  });

  await t.test('image prune removes untagged, unused images only', async () => {
    const id = (await dockerOk(d, ['import', tar])).trim();
    assert.equal((await dockerOk(d, ['images', '-q', '--filter', 'dangling=true', '--no-trunc'])).trim(), id);
    const out = await dockerOk(d, ['image', 'prune', '-f']);
    assert.match(out, new RegExp(`deleted: ${id}`));
    assert.equal((await dockerOk(d, ['images', '-q', '--filter', 'dangling=true'])).trim(), '');
    assert.match(await dockerOk(d, ['images', '--format', '{{.Repository}}:{{.Tag}}']), /imp:v1/, 'tagged images stay');
  });

  await t.test('an image in use is not removed without force', async () => {
    await dockerOk(d, ['create', '--name', 'user1', 'imp:v1', '/bin/true']);
    const r = await docker(d, ['rmi', 'imp:v1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /conflict: unable to remove repository reference "imp:v1" \(must force\) - container [0-9a-f]{12} is using its referenced image/);
  });
});

test('volumes: create, ls, inspect, rm, prune', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  assert.equal((await dockerOk(d, ['volume', 'create', '--label', 'k=v', 'vol1'])).trim(), 'vol1');
  assert.equal((await dockerOk(d, ['volume', 'create', 'vol1'])).trim(), 'vol1', 'create is idempotent');
  const anon = (await dockerOk(d, ['volume', 'create'])).trim();
  assert.match(anon, /^[0-9a-f]{64}$/);
  const ls = await dockerOk(d, ['volume', 'ls']);
  assert.match(ls, /^DRIVER\s+VOLUME NAME$/m);
  assert.match(ls, /^local\s+vol1$/m);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q', '--filter', 'label=k=v'])).trim().split('\n'), ['vol1']);
  const [v] = JSON.parse(await dockerOk(d, ['volume', 'inspect', 'vol1'])) as Array<{ Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string>; Scope: string }>;
  assert.equal(v!.Driver, 'local');
  assert.equal(v!.Scope, 'local');
  assert.deepEqual(v!.Labels, { k: 'v' });
  assert.equal(v!.Mountpoint, join(d.dataRoot, 'volumes', 'vol1', '_data'));
  assert.ok(existsSync(v!.Mountpoint));
  const bad = await docker(d, ['volume', 'create', 'bad/name']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  const insp = await docker(d, ['volume', 'inspect', 'nosuchvol']);
  assert.equal(insp.code, 1);
  assert.match(insp.stderr, /no such volume/);
  // prune without --all leaves named volumes alone (moby >= 23), -a removes them.
  await dockerOk(d, ['volume', 'prune', '-f']);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n'), ['vol1']);
  assert.equal((await dockerOk(d, ['volume', 'rm', 'vol1'])).trim(), 'vol1');
  assert.ok(!existsSync(v!.Mountpoint), 'the data went with the volume');
  const again = await docker(d, ['volume', 'rm', 'vol1']);
  assert.equal(again.code, 1);
  // -v name:/path: created on first use, data survives the container, in use blocks rm.
  await dockerOk(d, ['run', '--rm', '-v', 'data1:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f']);
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'data1:/data:ro', 'busybox', 'cat', '/data/f']), 'persisted\n');
  await dockerOk(d, ['run', '-d', '--name', 'vuser', '-v', 'data1:/data', 'busybox', 'sleep', '100']);
  const busy = await docker(d, ['volume', 'rm', 'data1']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /volume is in use/);
  assert.deepEqual((await dockerOk(d, ['ps', '-a', '--filter', 'volume=data1', '--format', '{{.Names}}'])).trim().split('\n'), ['vuser']);
  await dockerOk(d, ['rm', '-f', 'vuser']);
  assert.equal((await dockerOk(d, ['volume', 'rm', 'data1'])).trim(), 'data1');
  // Anonymous volumes (-v /path): mounted, kept by plain rm, removed by rm -v and by --rm.
  assert.equal((await dockerOk(d, ['run', '--name', 'anon', '-v', '/data', 'busybox', 'sh', '-c', 'echo kept > /data/f; cat /data/f'])).trim(), 'kept');
  const anonName = (await dockerOk(d, ['inspect', 'anon', '--format', '{{range .Mounts}}{{.Name}}{{end}}'])).trim();
  assert.match(anonName, /^[0-9a-f]{64}$/);
  assert.ok((await dockerOk(d, ['volume', 'ls', '-q'])).includes(anonName));
  await dockerOk(d, ['rm', '-v', 'anon']);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).includes(anonName), false, 'rm -v removed the anonymous volume');
  await dockerOk(d, ['run', '--rm', '-v', '/data', 'busybox', 'true']);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).trim(), '', '--rm removed its anonymous volume');
  // A new volume takes the image's content at its mount point (mode and owner too), unless nocopy.
  assert.match(await dockerOk(d, ['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/group']), /^root:x:0:/);
  // Only the /etc files moat mounts over it (after it, as dockerd, which lists the same three).
  assert.equal((await dockerOk(d, ['run', '--rm', '--mount', 'type=volume,dst=/etc,volume-nocopy', 'busybox', 'ls', '/etc'])).trim(), 'hostname\nhosts\nresolv.conf');
  assert.match(await dockerOk(d, ['run', '--rm', '-v', '/tmp', 'busybox', 'stat', '-c', '%a', '/tmp']), /^1777/);
  await dockerOk(d, ['volume', 'rm', 'etcvol']);
  await dockerOk(d, ['volume', 'create', 'vol2']);
  await dockerOk(d, ['volume', 'create', '--label', 'keep=yes', 'kept']);
  // A filter key moby does not know is refused (a typo must not prune as if unfiltered).
  const maybe = await docker(d, ['volume', 'ls', '--filter', 'dangling=maybe']);
  assert.equal(maybe.code, 1);
  assert.match(maybe.stderr, /Invalid filter 'dangling=\[maybe\]'/);
  const driverOpt = await docker(d, ['run', '--rm', '--mount', 'type=volume,source=vd,target=/x,volume-driver=nfs', 'busybox', 'true']);
  assert.equal(driverOpt.code, 125);
  assert.match(driverOpt.stderr, /volume driver "nfs" is not supported by moat: only "local"/);
  await dockerOk(d, ['run', '--rm', '--volume-driver', 'local', 'busybox', 'true']);
  const typo = await docker(d, ['volume', 'prune', '-af', '--filter', 'labl=keep']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /Invalid filter 'labl'/);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n').sort(), ['kept', 'vol2']);
  const pruned = await dockerOk(d, ['volume', 'prune', '-af', '--filter', 'label!=keep']);
  assert.match(pruned, /vol2/);
  assert.doesNotMatch(pruned, /kept/);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).trim(), 'kept');
  assert.match(await dockerOk(d, ['volume', 'prune', '-af']), /kept/);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).trim(), '');
});

test('volumes: a create makes its named volumes, with --mount labels; parallel first uses make one', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const volumeLabels = async (name: string): Promise<unknown> => JSON.parse(await dockerOk(d, ['volume', 'inspect', name, '--format', '{{json .Labels}}'])) as unknown;
  await dockerOk(d, ['volume', 'create', '--label', 'k=v', 'pre']);
  await dockerOk(d, ['create', '--name', 'vc', '-v', 'cv1:/a', '--mount', 'type=volume,src=cv2,dst=/b,volume-label=a=b', '--mount', 'type=volume,dst=/c,volume-label=c=d', '--mount', 'type=volume,src=pre,dst=/p,volume-label=x=y', 'busybox', 'true']);
  // As dockerd: the volumes exist before the container ever starts.
  const anon = (await dockerOk(d, ['inspect', 'vc', '--format', '{{range .Mounts}}{{if eq .Destination "/c"}}{{.Name}}{{end}}{{end}}'])).trim();
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n').sort(), [anon, 'cv1', 'cv2', 'pre'].sort());
  assert.deepEqual(await volumeLabels('cv1'), {});
  assert.deepEqual(await volumeLabels('cv2'), { a: 'b' });
  assert.deepEqual(await volumeLabels(anon), { c: 'd' });
  assert.deepEqual(await volumeLabels('pre'), { k: 'v' }, 'an existing volume keeps its labels');
  const busy = await docker(d, ['volume', 'rm', 'cv1']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /volume is in use/);
  await dockerOk(d, ['rm', '-v', 'vc']);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n').sort(), ['cv1', 'cv2', 'pre']);
  // Several runs that name a new volume at once: one makes it, the others use it (a 500
  // "EEXIST: file already exists" for the others before).
  for (const round of ['par1', 'par2']) {
    const runs = await Promise.all([1, 2, 3, 4].map(() => docker(d, ['run', '--rm', '-v', `${round}:/d`, 'busybox', 'true'])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n').sort(), ['cv1', 'cv2', 'par1', 'par2', 'pre']);
  const made = await Promise.all([1, 2, 3].map(() => docker(d, ['volume', 'create', 'apivol'])));
  for (const r of made) assert.equal(r.stdout.trim(), 'apivol', r.stderr);
});

test("volumes: an image's VOLUME is an anonymous volume with the image's content; EXPOSE and HEALTHCHECK show in inspect", async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // As dockerd: a RUN after VOLUME writes into the step's volume, which the layer does not keep.
  const dockerfile = 'FROM busybox\nRUN mkdir /seed && echo seeded > /seed/f\nVOLUME /seed/ /data\nRUN echo lost > /data/f\nEXPOSE 8080\nHEALTHCHECK CMD true\n';
  const built = await docker(d, ['build', '-q', '-t', 'withvol', '-'], { input: dockerfile, timeoutMs: 60_000 });
  assert.equal(built.code, 0, built.stderr);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).trim(), '', 'the build removed its steps\' volumes');
  const out = await dockerOk(d, ['run', '--name', 'iv', 'withvol', 'sh', '-c', 'grep -cE " /(seed|data) " /proc/self/mounts; cat /seed/f; ls /data']);
  assert.equal(out, '2\nseeded\n');
  const mounts = JSON.parse(await dockerOk(d, ['inspect', 'iv', '--format', '{{json .Mounts}}'])) as Array<{ Type: string; Name: string; Destination: string }>;
  assert.deepEqual(mounts.map((m) => [m.Type, m.Destination]).sort(), [['volume', '/data'], ['volume', '/seed']]);
  assert.deepEqual((await dockerOk(d, ['volume', 'ls', '-q'])).trim().split('\n').sort(), mounts.map((m) => m.Name).sort());
  const cfg = JSON.parse(await dockerOk(d, ['inspect', 'iv', '--format', '{{json .Config}}'])) as { Volumes: unknown; ExposedPorts: unknown; Healthcheck: unknown };
  assert.deepEqual(cfg.Volumes, { '/data': {}, '/seed/': {} });
  assert.deepEqual(cfg.ExposedPorts, { '8080/tcp': {} });
  assert.deepEqual(cfg.Healthcheck, { Test: ['CMD-SHELL', 'true'] });
  // A -v on the same path replaces the image's volume (one mount, the named volume).
  assert.equal(await dockerOk(d, ['run', '--rm', '-v', 'own:/seed', 'withvol', 'sh', '-c', 'grep -c " /seed " /proc/self/mounts; cat /seed/f']), '1\nseeded\n');
  await dockerOk(d, ['rm', '-v', 'iv']);
  assert.equal((await dockerOk(d, ['volume', 'ls', '-q'])).trim(), 'own', 'rm -v removed the anonymous ones');
  const plain = JSON.parse(await dockerOk(d, ['create', '--name', 'plain', 'busybox', 'true']).then(() => dockerOk(d, ['inspect', 'plain', '--format', '{{json .Config.Volumes}}']))) as unknown;
  assert.equal(plain, null, 'no volumes: null, as dockerd');
});

test('events: since/until replay, filters, and a live stream', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const since = Math.floor(Date.now() / 1000) - 1;
  await docker(d, ['run', '--rm', '--name', 'ev1', '--label', 'team=a', 'busybox', 'sh', '-c', 'exit 2']);
  await dockerOk(d, ['tag', 'busybox', 'evtag:1']);
  await sleep(50);
  const until = Math.floor(Date.now() / 1000) + 1;

  const replay = await docker(d, ['events', '--since', String(since), '--until', String(until)], { timeoutMs: 10_000 });
  assert.equal(replay.code, 0, replay.stderr);
  const actions = replay.stdout.trim().split('\n').map((l) => /^\S+ (\w+) (\S+)/.exec(l)?.slice(1, 3).join(' '));
  assert.deepEqual(actions.filter((a) => a?.startsWith('container')), ['container create', 'container attach', 'container start', 'container die', 'container destroy']);
  assert.ok(actions.includes('image tag'));
  assert.match(replay.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} \(exitCode=2, image=busybox, name=ev1, team=a\)$/m);

  const filtered = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'type=container', '--filter', 'event=die', '--filter', 'event=start']);
  assert.deepEqual(filtered.trim().split('\n').map((l) => l.split(' ')[2]), ['start', 'die']);
  const byLabel = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'label=team=a', '--filter', 'event=destroy']);
  assert.equal(byLabel.trim().split('\n').length, 1);
  const none = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'container=nosuch']);
  assert.equal(none, '');

  // Live: the stream stays open and delivers events as they happen.
  const live = spawn(dockerCli()!, ['events', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}', '--filter', 'type=container'], { env: dockerEnv(d) });
  let out = '';
  live.stdout.on('data', (c: Buffer) => (out += c.toString()));
  t.after(() => live.kill('SIGKILL'));
  await sleep(500);
  await dockerOk(d, ['run', '--rm', '--name', 'ev2', 'busybox', 'true']);
  for (let i = 0; i < 50 && !out.includes('destroy ev2'); i++) await sleep(100);
  live.kill('SIGINT');
  assert.match(out, /container start ev2\n/);
  assert.match(out, /container destroy ev2\n/);
});
