// What a new container takes from its image's config (issue 16): StopSignal, StopTimeout and
// the Healthcheck, under the container's own values; its VOLUMEs and EXPOSEd ports, merged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../test/helpers/engine-rig.js';
import { DEFAULT_DAEMON_LOG_CONFIG } from './log-config.js';
import { planContainer, planVolumes, type CreateInputs, type ImageConfigFields } from './plan.js';

const unconfined = () => ({ spec: undefined, name: 'unconfined' });

function plan(image: ImageConfigFields, config: CreateInputs['config'] = { Image: 'img', Cmd: ['true'] }, hostConfig: CreateInputs['hostConfig'] = {}) {
  const inp: CreateInputs = { id: 'a'.repeat(64), name: 'c1', created: new Date().toISOString(), config, hostConfig, image: { id: `sha256:${'b'.repeat(64)}`, config: { config: image } } };
  return planContainer(inp, DEFAULTS, DEFAULT_DAEMON_LOG_CONFIG, unconfined).record;
}

test('the image\'s StopSignal, StopTimeout and Healthcheck are the defaults; the container\'s win', () => {
  const img: ImageConfigFields = { Cmd: ['sh'], StopSignal: 'SIGQUIT', StopTimeout: 3, Healthcheck: { Test: ['CMD', 'true'], Interval: 1e9 } };
  const fromImage = plan(img);
  assert.equal(fromImage.Config.StopSignal, 'SIGQUIT');
  assert.equal(fromImage.Config.StopTimeout, 3);
  assert.deepEqual(fromImage.Config.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9 });
  const own = plan(img, { Image: 'img', Cmd: ['true'], StopSignal: 'SIGINT', StopTimeout: 7, Healthcheck: { Test: ['NONE'] } });
  assert.equal(own.Config.StopSignal, 'SIGINT');
  assert.equal(own.Config.StopTimeout, 7);
  // NONE turns it off; the zero fields still take the image's, as Docker's merge does.
  assert.deepEqual(own.Config.Healthcheck, { Test: ['NONE'], Interval: 1e9 });
  assert.throws(() => plan(img, { Image: 'img', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Retries: -1 } }), /Retries in Healthcheck cannot be negative/);
});

test('--init without the binary on the host is a 400 at create', () => {
  assert.throws(() => plan({ Cmd: ['sh'] }, undefined, { Init: true }), /init binary is not on this host/);
  assert.doesNotThrow(() => plan({ Cmd: ['sh'] }, undefined, { Init: false }));
});

test("--entrypoint '' ([\"\"]) resets the image's entrypoint and does not take its Cmd", () => {
  const img: ImageConfigFields = { Entrypoint: ['/entry'], Cmd: ['default-arg'] };
  const reset = plan(img, { Image: 'img', Entrypoint: [''], Cmd: ['echo', 'hi'] });
  assert.deepEqual([reset.Path, reset.Args, reset.Config.Entrypoint], ['echo', ['hi'], null]);
  assert.throws(() => plan(img, { Image: 'img', Entrypoint: [''] }), /No command specified/);
  const kept = plan(img, { Image: 'img' });
  assert.deepEqual([kept.Path, kept.Args], ['/entry', ['default-arg']]);
});

test('a StopSignal that does not parse is a 400 at create; the image\'s is taken as it is', () => {
  assert.throws(() => plan({ Cmd: ['sh'] }, { Image: 'img', Cmd: ['true'], StopSignal: 'BOGUS' }), (e: unknown) => e instanceof Error && e.message === 'Invalid signal: BOGUS' && (e as { status?: number }).status === 400);
  assert.doesNotThrow(() => plan({ Cmd: ['sh'] }, { Image: 'img', Cmd: ['true'], StopSignal: 'SIGRTMIN+3' }));
  assert.equal(plan({ Cmd: ['sh'], StopSignal: 'BOGUS' }).Config.StopSignal, 'BOGUS');
});

test("the image's VOLUMEs and EXPOSEd ports join the container's; bad volume paths are 400s", () => {
  const rec = plan({ Cmd: ['sh'], Volumes: { '/data/': {}, '/logs': {} }, ExposedPorts: { '80/tcp': {} } }, { Image: 'img', Cmd: ['true'], Volumes: { '/data': {} }, ExposedPorts: { '53/udp': {} } });
  assert.deepEqual(rec.Config.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(rec.Config.Volumes, { '/data/': {}, '/logs': {}, '/data': {} });
  let n = 0;
  planVolumes(rec, () => `v${++n}`);
  // `/data/` and `/data` are one volume; a mount on a path replaces the image's volume there.
  assert.deepEqual(rec.Volumes?.map((v) => [v.name, v.target, v.anonymous]), [['v1', '/data', true], ['v2', '/logs', true]]);
  const mounted = plan({ Cmd: ['sh'], Volumes: { '/logs': {} } }, { Image: 'img', Cmd: ['true'] }, { Binds: ['named:/logs'] });
  planVolumes(mounted, () => 'unused');
  assert.deepEqual(mounted.Volumes?.map((v) => [v.name, v.target, v.anonymous]), [['named', '/logs', false]]);
  assert.equal(plan({ Cmd: ['sh'] }).Config.Volumes, null, 'none on either side: null, as dockerd');
  for (const [bad, why] of [['relative', /'relative': mount path must be absolute/], ['/..', /'\/..': destination can't be '\/'/]] as const) {
    assert.throws(() => planVolumes(plan({ Cmd: ['sh'], Volumes: { [bad]: {} } }), () => 'x'), why);
  }
});
