// moat's default seccomp profile under real runc: what a container process sees for the
// syscalls the profile blocks, allows, or does not know (issue 5's baseline, and seccomp.md
// §3.5 / §3.8 re-checked with moat's own profile and its 11 default capabilities).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { createProbeBundle } from '../../helpers/probe/bundle.js';
import { parseProbeOutput, probeArgs, verdict } from '../../helpers/probe/index.js';
import { DEFAULT_PROFILE_BATTERY, defaultSeccomp, labelOf } from '../../helpers/probe/battery.js';
import { MOAT_DEFAULT_CAPS } from '../../../src/caps/index.js';

test('default profile: blocked syscalls get EPERM, unknown ones ENOSYS, the rest run (runc 1.1.5)', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const { seccomp } = defaultSeccomp();
  const b = createProbeBundle({ seccomp, capabilities: MOAT_DEFAULT_CAPS, args: probeArgs(DEFAULT_PROFILE_BATTERY.map(([c]) => c)) });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.equal(r.code, 0, `runc run: ${r.stderr}`);
  const { results } = parseProbeOutput(r.stdout);
  const got = DEFAULT_PROFILE_BATTERY.map(([cmd]) => `${labelOf(cmd)} ${verdict(results.get(labelOf(cmd))?.[0])}`);
  const want = DEFAULT_PROFILE_BATTERY.map(([cmd, v]) => `${labelOf(cmd)} ${v}`);
  assert.deepEqual(got, want);
});

test('without a filter the same probe reaches the kernel (the battery is not vacuous)', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const b = createProbeBundle({ capabilities: MOAT_DEFAULT_CAPS, args: probeArgs([['reboot'], ['nr', '1000'], ['socket', '38'], ['status']]) });
  t.after(() => b.cleanup());
  const r = await b.run();
  assert.equal(r.code, 0, `runc run: ${r.stderr}`);
  const { results, other } = parseProbeOutput(r.stdout);
  assert.equal(verdict(results.get('reboot')?.[0]), 'EPERM'); // the kernel's own check: no CAP_SYS_BOOT
  assert.equal(verdict(results.get('nr:1000')?.[0]), 'ENOSYS');
  assert.notEqual(verdict(results.get('socket:38')?.[0]), 'EPERM'); // AF_ALG: a socket or EAFNOSUPPORT
  assert.ok(other.includes('Seccomp:\t0'), `unconfined: ${other.join(' | ')}`);
});
