// Legacy links (`--link target[:alias]`) on the default bridge through moatd and the docker
// CLI, on real containers: the alias in /etc/hosts and the link variables, a wget to the
// alias reaching busybox httpd in the target, Links in inspect, a missing target (exit 125),
// a stopped target at start, links refused on a user network; and with icc off (moat's
// default) the create warning that says the pair cannot talk, and that indeed it cannot.
// Traffic goes only to this test's containers on the bridges its daemons made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { freeSubnet } from '../../helpers/network.js';
import { docker, dockerOk } from '../compat/cli.js';

const HTTPD = ['busybox', 'httpd', '-f', '-p', '80', '-h', '/etc'];
const esc = (s: string): string => s.replaceAll('.', '\\.');

// busybox `wget -T` crashes (SIGSEGV) in this image: `timeout 3 wget` bounds the wait instead.
/** `wget http://db/hostname` (up to `tries` times) from a new container linked to `target` as db: the body, or undefined. */
async function wgetLinked(d: TestDaemon, target: string, tries: number): Promise<{ body: string | undefined; stderr: string }> {
  const script = `for i in $(seq ${tries}); do timeout 3 wget -q -O - http://db/hostname && exit 0; sleep 0.3; done; exit 1`;
  const r = await docker(d, ['run', '--rm', '--link', `${target}:db`, 'busybox', 'sh', '-c', script], { timeoutMs: 30_000 });
  return { body: r.code === 0 ? r.stdout.trim() : undefined, stderr: r.stderr };
}

test('--link on the default bridge with icc on', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon({ args: ['--icc'] });
  t.after(() => d.cleanup());
  const id = (await dockerOk(d, ['run', '-d', '--name', 'web', '--expose', '80', '-e', 'ROLE=server', ...HTTPD])).trim();
  const ip = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', 'web'])).trim();
  assert.match(ip, new RegExp(`^${esc(d.bridgeSubnet.prefix)}\\.\\d+$`));

  await t.test('/etc/hosts names the target by alias, hostname and name; the link variables are set', async () => {
    const hosts = await dockerOk(d, ['run', '--rm', '--link', 'web:db', 'busybox', 'cat', '/etc/hosts']);
    assert.match(hosts, new RegExp(`^${esc(ip)}\\tdb ${id.slice(0, 12)} web$`, 'm'), hosts);
    const env = await dockerOk(d, ['run', '--rm', '--name', 'client0', '--link', 'web:db', 'busybox', 'env']);
    for (const v of [`DB_PORT=tcp://${ip}:80`, `DB_PORT_80_TCP_ADDR=${ip}`, 'DB_PORT_80_TCP_PORT=80', 'DB_NAME=/client0/db', 'DB_ENV_ROLE=server']) {
      assert.match(env, new RegExp(`^${esc(v)}$`, 'm'), env);
    }
  });

  await t.test('a wget to the alias reaches busybox httpd in the target', async () => {
    const r = await wgetLinked(d, 'web', 5);
    assert.equal(r.body, id.slice(0, 12), r.stderr);
  });

  await t.test('inspect shows Links in Docker form; a stopped target is refused at start', async () => {
    await dockerOk(d, ['create', '--name', 'client', '--link', 'web:db', 'busybox', 'true']);
    assert.equal((await dockerOk(d, ['inspect', '-f', '{{json .HostConfig.Links}}', 'client'])).trim(), '["/web:/client/db"]');
    await dockerOk(d, ['stop', '-t', '1', 'web']);
    const r = await docker(d, ['start', 'client']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Cannot link to a non running container: \/web AS \/client\/db/);
    await dockerOk(d, ['start', 'web']);
    await dockerOk(d, ['start', '-a', 'client']);
  });

  await t.test('a missing target is exit 125 naming it; on a user network a link is a name in /etc/hosts', async (st) => {
    const r = await docker(d, ['run', '--rm', '--link', 'nosuch:db', 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /could not get container for nosuch: No such container: nosuch/);
    const front = freeSubnet([d.bridgeSubnet.subnet]);
    const netId = (await dockerOk(d, ['network', 'create', '--subnet', front.subnet, 'front'])).trim();
    // The subtest's own hook: the outer test's ran after the daemon's cleanup, against no daemon.
    st.after(() => docker(d, ['network', 'rm', netId]));
    const u = await docker(d, ['run', '--rm', '--network', 'front', '--link', 'web:db', 'busybox', 'true']);
    assert.equal(u.code, 125, u.stderr);
    assert.match(u.stderr, /Cannot link to \/web, as it does not belong to the network front/);
    // The CLI sends `--link` in the endpoint of a user network (docker-compose 1.29's `run`
    // in HostConfig.Links): the alias names the target's address there, without variables.
    await dockerOk(d, ['run', '-d', '--name', 'ft', '--network', 'front', 'busybox', 'sleep', '60']);
    try {
      const [ip, hostname] = (await dockerOk(d, ['inspect', 'ft', '--format', '{{.NetworkSettings.Networks.front.IPAddress}} {{.Config.Hostname}}'])).trim().split(' ');
      const out = await dockerOk(d, ['run', '--rm', '--network', 'front', '--link', 'ft:al', 'busybox', 'sh', '-c', 'grep -w al /etc/hosts; env | grep -c "^AL_" || true']);
      assert.equal(out, `${ip}\tal ${hostname} ft\n0\n`);
      // moby's refusals for host and container:X networking; with none the link is taken and
      // nothing is written for it, as dockerd 20.10 does (docker-compose 1.29's `run` of a
      // `network_mode: none` service sends links: refused before).
      const host = await docker(d, ['run', '--rm', '--network', 'host', '--link', 'ft:al', 'busybox', 'true']);
      assert.equal(host.code, 125, host.stderr);
      assert.match(host.stderr, /conflicting options: host type networking can't be used with links/);
      const joined = await docker(d, ['run', '--rm', '--network', 'container:ft', '--link', 'ft:al', 'busybox', 'true']);
      assert.equal(joined.code, 125, joined.stderr);
      assert.match(joined.stderr, /conflicting options: container type network can't be used with links/);
      const none = await docker(d, ['run', '--rm', '--network', 'none', '--link', 'ft:al', 'busybox', 'sh', '-c', 'grep -cw al /etc/hosts; env | grep -c "^AL_" || true']);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, '0\n0\n');
      const noneMissing = await docker(d, ['run', '--rm', '--network', 'none', '--link', 'nosuch:al', 'busybox', 'true']);
      assert.equal(noneMissing.code, 125, noneMissing.stderr);
      assert.match(noneMissing.stderr, /could not get container for nosuch: No such container: nosuch/);
    } finally {
      await docker(d, ['rm', '-f', 'ft']);
    }
  });
});

test('--link with icc off (the default): a warning at create, and the pair cannot talk', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'docker-cli', 'netavark', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  await dockerOk(d, ['run', '-d', '--name', 'web', ...HTTPD]);
  const r = await wgetLinked(d, 'web', 2);
  assert.match(r.stderr, /WARNING: Links on the default bridge with inter-container communication off/);
  assert.equal(r.body, undefined, 'bridge ports stay isolated: the warning is true');
});
