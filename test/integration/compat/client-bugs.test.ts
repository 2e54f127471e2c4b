// Issue 16's correctness bugs, each through the docker CLI 28 that found it: exec in an
// image without Env finds its command, several label filters are ANDed (ps, events, images),
// unknown filter keys are a 400, `docker stop` gives one `stop` event with the container's
// attributes, the built-in image has a real creation date that survives a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { docker, dockerOk } from './cli.js';

test('issue 16 bugs through the docker CLI', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());

  await t.test('exec in a container whose image has no Env gets the default PATH, as run does', async () => {
    await dockerOk(d, ['create', '--name', 'src', 'busybox']);
    const tar = await new Promise<Buffer>((resolve, reject) => {
      // docker export | docker import: an image with no Config.Env at all.
      d.api('GET', '/containers/src/export').then((r) => (r.status === 200 ? resolve(r.body) : reject(new Error(`export ${r.status}`))), reject);
    });
    await dockerOk(d, ['import', '-', 'noenv:1'], { input: tar });
    const env = JSON.parse(await dockerOk(d, ['image', 'inspect', 'noenv:1', '--format', '{{json .Config.Env}}'])) as unknown;
    assert.ok(env === null || (Array.isArray(env) && env.length === 0), `imported image has no Env: ${JSON.stringify(env)}`);
    await dockerOk(d, ['run', '-d', '--name', 'noenv', 'noenv:1', 'sleep', '60']);
    const r = await docker(d, ['exec', '-e', 'EXTRA=1', 'noenv', 'env']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'), r.stdout);
    assert.ok(lines.includes('EXTRA=1'), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('HOSTNAME=')), r.stdout);
    // The container's own PATH wins over the default.
    await dockerOk(d, ['run', '-d', '--name', 'ownpath', '-e', 'PATH=/usr/bin:/bin', 'noenv:1', 'sleep', '60']);
    assert.match(await dockerOk(d, ['exec', 'ownpath', 'env']), /^PATH=\/usr\/bin:\/bin$/m);
    await dockerOk(d, ['rm', '-f', 'noenv', 'ownpath', 'src']);
  });

  await t.test('several label filters are ANDed on ps, events and images; unknown filter keys are a 400', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await dockerOk(d, ['create', '--name', 'both', '-l', 'proj=a', '-l', 'hash=1', 'busybox']);
    await dockerOk(d, ['create', '--name', 'onlyproj', '-l', 'proj=a', 'busybox']);
    await dockerOk(d, ['create', '--name', 'other', '-l', 'proj=b', '-l', 'hash=1', 'busybox']);
    const names = async (args: string[]): Promise<string[]> => (await dockerOk(d, ['ps', '-a', '--format', '{{.Names}}', ...args])).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await names(['-f', 'label=proj=a', '-f', 'label=hash=1']), ['both']);
    assert.deepEqual(await names(['-f', 'label=proj=a']), ['both', 'onlyproj']);
    assert.deepEqual(await names(['-f', 'label=proj', '-f', 'label=hash']), ['both', 'other']);
    assert.deepEqual(await names(['-f', 'label=proj=a', '-f', 'label=missing']), []);

    const until = String(Math.floor(Date.now() / 1000) + 1);
    const ev = await dockerOk(d, ['events', '--since', since, '--until', until, '-f', 'event=create', '-f', 'label=proj=a', '-f', 'label=hash=1', '--format', '{{.Actor.Attributes.name}}']);
    assert.deepEqual(ev.trim().split('\n'), ['both']);

    for (const args of [['ps', '-f', 'bogus=1'], ['events', '--since', since, '--until', until, '-f', 'bogus=1'], ['images', '-f', 'bogus=1']]) {
      const r = await docker(d, args);
      assert.notEqual(r.code, 0, `${args.join(' ')} accepted an unknown filter`);
      assert.match(r.stderr, /invalid filter 'bogus'/);
    }
    const bad = await d.api('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ bogus: [] }))}`);
    assert.equal(bad.status, 400, 'an unknown key with no values is a 400 too');
    const badStatus = await docker(d, ['ps', '-f', 'status=sleeping']);
    assert.match(badStatus.stderr, /invalid filter 'status=sleeping'/);
    await dockerOk(d, ['rm', 'both', 'onlyproj', 'other']);
  });

  await t.test('docker stop: kill, die and one stop event, each with the container\'s attributes', async () => {
    await dockerOk(d, ['run', '-d', '--name', 'stopme', '-l', 'k=v', 'busybox', 'sleep', '60']);
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await dockerOk(d, ['stop', '-t', '1', 'stopme']);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const out = await dockerOk(d, ['events', '--since', since, '--until', until, '-f', 'container=stopme', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.image}} {{.Actor.Attributes.k}}']);
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('stop ')), ['stop stopme busybox v'], out);
    assert.ok(lines.includes('kill stopme busybox v'), out);
    assert.ok(lines.includes('die stopme busybox v'), out);
    assert.ok(lines.indexOf('die stopme busybox v') < lines.indexOf('stop stopme busybox v'), out);
    await dockerOk(d, ['rm', 'stopme']);
  });

  await t.test('docker system df: images, containers with the bytes they wrote, volumes with size and users', async () => {
    await dockerOk(d, ['run', '--name', 'dfc', '-v', 'dfvol:/data', 'busybox', 'sh', '-c', 'head -c 1000000 /dev/zero > /big; head -c 500000 /dev/zero > /data/f']);
    const r = await d.api('GET', '/system/df');
    assert.equal(r.status, 200);
    const df = r.json<{ Images: Array<{ RepoTags: string[]; Containers: number }>; Containers: Array<{ Names: string[]; SizeRw: number }>; Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>; BuildCache: unknown[]; LayersSize: number }>();
    const c = df.Containers.find((x) => x.Names.includes('/dfc'));
    assert.ok(c && c.SizeRw >= 1_000_000 && c.SizeRw < 1_100_000, JSON.stringify(c));
    const v = df.Volumes.find((x) => x.Name === 'dfvol');
    assert.deepEqual(v?.UsageData, { Size: 500_000, RefCount: 1 });
    assert.ok(df.Images.some((i) => i.RepoTags.includes('busybox:latest') && i.Containers >= 1));
    assert.ok(df.LayersSize > 0);
    assert.deepEqual(df.BuildCache, []);
    const only = (await d.api('GET', '/system/df?type=volume')).json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(only), ['Volumes']);
    assert.equal((await d.api('GET', '/system/df?type=bogus')).status, 400);
    assert.match(await dockerOk(d, ['system', 'df']), /Local Volumes +1 +1 +500kB/);
    // SizeRootFs is the container's bytes plus its image's.
    const image = JSON.parse(await dockerOk(d, ['image', 'inspect', 'busybox', '--format', '{{json .Size}}'])) as number;
    const dfc = df.Containers.find((x) => x.Names.includes('/dfc')) as unknown as { SizeRw: number; SizeRootFs: number };
    assert.equal(dfc.SizeRootFs, dfc.SizeRw + image);
    // SharedSize: the bytes of an image's layers that another image has too (-1 before, which
    // the CLI's RECLAIMABLE read as "all of it" for images in use).
    const dfImages = df.Images as unknown as Array<{ Id: string; Size: number; SharedSize: number }>;
    const layers = await Promise.all(dfImages.map(async (i) => JSON.parse(await dockerOk(d, ['image', 'inspect', i.Id, '--format', '{{json .RootFS.Layers}}'])) as string[]));
    dfImages.forEach((i, n) => {
      const elsewhere = layers[n]!.filter((l) => layers.some((o, m) => m !== n && o.includes(l)));
      if (elsewhere.length === 0) assert.equal(i.SharedSize, 0, i.Id);
      else if (elsewhere.length === layers[n]!.length) assert.equal(i.SharedSize, i.Size, i.Id);
      else assert.ok(i.SharedSize > 0 && i.SharedSize < i.Size, JSON.stringify(i));
    });
    // size=1 on ps and inspect (`docker ps -s`, `inspect -s`), as dockerd: 0B and <nil> before.
    assert.match(await dockerOk(d, ['ps', '-a', '-s', '--filter', 'name=dfc', '--format', '{{.Size}}']), /^1MB \(virtual \d/);
    assert.equal((await dockerOk(d, ['inspect', '-s', 'dfc', '--format', '{{.SizeRw}} {{.SizeRootFs}}'])).trim(), `${dfc.SizeRw} ${dfc.SizeRootFs}`);
    assert.equal((await dockerOk(d, ['inspect', 'dfc', '--format', '{{.SizeRw}}'])).trim(), '<nil>', 'only when asked');
    assert.equal((await dockerOk(d, ['inspect', 'dfc', '--format', '{{.HostConfig.CgroupnsMode}}'])).trim(), 'private', 'the mode applied');
    await dockerOk(d, ['rm', '-v', 'dfc']);
    await dockerOk(d, ['volume', 'rm', 'dfvol']);
  });

  await t.test('the built-in image\'s Created is a real date, the same after a daemon restart', async () => {
    const created = (await dockerOk(d, ['image', 'inspect', 'busybox', '--format', '{{.Created}}'])).trim();
    const year = new Date(created).getUTCFullYear();
    assert.ok(year >= 2020, `Created ${created}`);
    assert.doesNotMatch(await dockerOk(d, ['images', 'busybox']), /years ago/);
    await d.stop();
    await d.start();
    assert.equal((await dockerOk(d, ['image', 'inspect', 'busybox', '--format', '{{.Created}}'])).trim(), created);
  });
});
