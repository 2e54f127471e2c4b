import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFixtureJson, seccompFixtureDir } from '../../test/helpers/seccomp-fixtures.js';
import { formatIssues, formatPath, type Issue, parseProfile, type Profile } from './profile.js';

const base = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] as unknown[] };
const withRule = (rule: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({ ...base, ...extra, syscalls: [rule] });

function issuesOf(input: unknown): readonly Issue[] {
  const r = parseProfile(input);
  assert.equal(r.ok, false, 'expected the profile to be rejected');
  return r.ok ? [] : r.issues;
}
function valueOf(input: unknown): { value: Profile; warnings: readonly Issue[] } {
  const r = parseProfile(input);
  if (!r.ok) assert.fail(`expected the profile to parse:\n${formatIssues(r.issues)}`);
  return r;
}

test('parseProfile() accepts every documented field', () => {
  const input = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] }, { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null }],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    listenerPath: '/run/moat/notify.sock',
    listenerMetadata: 'meta',
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, comment: 'no dirs' },
      { name: 'socket', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 3, valueTwo: 1, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'], arches: ['amd64'], minKernel: '4.8' }, excludes: { caps: ['CAP_SYS_BOOT'] } },
      { names: ['getppid'], action: 'SCMP_ACT_NOTIFY' },
    ],
  };
  const { value, warnings } = valueOf(input);
  assert.equal(value.defaultErrnoRet, 38);
  assert.deepEqual(value.archMap?.[1], { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null });
  assert.deepEqual(value.syscalls[1]?.names, ['socket'], 'name is folded into names');
  assert.equal(value.syscalls[1]?.args?.[1]?.valueTwo, 1);
  assert.deepEqual(value.syscalls[2]?.includes, { caps: ['CAP_SYS_ADMIN'], arches: ['amd64'], minKernel: '4.8' });
  assert.equal(value.syscalls[0]?.comment, 'no dirs');
  assert.equal(value.listenerMetadata, 'meta');
  assert.deepEqual(warnings.map((w) => w.code), ['flags_unsupported']);
  // Round trip: the parsed value is itself a valid profile.
  assert.deepEqual(valueOf(JSON.parse(JSON.stringify(value))).value, value);
});

test('parseProfile() reports each problem with its JSON path', async (t) => {
  const cases: Array<[string, unknown, string, string]> = [
    ['not an object', [], '', 'invalid_type'],
    ['missing defaultAction', { syscalls: [] }, 'defaultAction', 'required'],
    ['unknown default action', { defaultAction: 'SCMP_ACT_NOPE' }, 'defaultAction', 'unknown_action'],
    ['notify default', { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/x' }, 'defaultAction', 'notify_default'],
    ['unknown rule action', withRule({ names: ['mkdir'], action: 'SCMP_ACT_NOPE' }), 'syscalls[0].action', 'unknown_action'],
    ['unknown operator', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_LIKE' }] }), 'syscalls[0].args[0].op', 'unknown_operator'],
    ['arg index 6', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].index', 'arg_index_out_of_range'],
    ['negative value', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].value', 'invalid_type'],
    ['unknown syscall', withRule({ names: ['mkdir', 'mkdirr'], action: 'SCMP_ACT_ERRNO' }), 'syscalls[0].names[1]', 'unknown_syscall'],
    ['unknown syscall (name)', withRule({ name: 'mkdirr', action: 'SCMP_ACT_ERRNO' }), 'syscalls[0].name', 'unknown_syscall'],
    ['name and names', withRule({ name: 'mkdir', names: ['rmdir'], action: 'SCMP_ACT_ERRNO' }), 'syscalls[0].name', 'name_conflict'],
    ['no names', withRule({ names: [], action: 'SCMP_ACT_ERRNO' }), 'syscalls[0].names', 'required'],
    ['names not strings', withRule({ names: [1], action: 'SCMP_ACT_ERRNO' }), 'syscalls[0].names[0]', 'invalid_type'],
    ['errnoRet too big', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 4096 }), 'syscalls[0].errnoRet', 'errno_out_of_range'],
    ['errnoRet negative', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: -1 }), 'syscalls[0].errnoRet', 'errno_out_of_range'],
    ['errnoRet string', withRule({ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 'EPERM' }), 'syscalls[0].errnoRet', 'invalid_type'],
    ['defaultErrnoRet too big', { ...base, defaultErrnoRet: 70000 }, 'defaultErrnoRet', 'errno_out_of_range'],
    ['both arch forms', { ...base, architectures: ['SCMP_ARCH_X86_64'], archMap: [] }, 'archMap', 'arch_conflict'],
    ['unknown arch', { ...base, architectures: ['SCMP_ARCH_Z80'] }, 'architectures[0]', 'unknown_arch'],
    ['unknown sub-arch', { ...base, archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['x86'] }] }, 'archMap[0].subArchitectures[0]', 'unknown_arch'],
    ['unknown flag', { ...base, flags: ['SECCOMP_FILTER_FLAG_NOPE'] }, 'flags[0]', 'unknown_flag'],
    ['syscalls not an array', { ...base, syscalls: {} }, 'syscalls', 'invalid_type'],
    ['listenerPath not a string', { ...base, listenerPath: 3 }, 'listenerPath', 'invalid_type'],
    ['bad minKernel', withRule({ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8.1' } }), 'syscalls[0].includes.minKernel', 'invalid_kernel_version'],
    ['minKernel 0.0', withRule({ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '0.0' } }), 'syscalls[0].excludes.minKernel', 'invalid_kernel_version'],
    ['minKernel > 255', withRule({ names: ['ptrace'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '256.1' } }), 'syscalls[0].excludes.minKernel', 'invalid_kernel_version'],
    ['caps not strings', withRule({ names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: 'CAP_SYS_ADMIN' } }), 'syscalls[0].includes.caps', 'invalid_type'],
    ['notify without listener', withRule({ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }), 'listenerPath', 'notify_without_listener'],
    ['notify on write', withRule({ names: ['write'], action: 'SCMP_ACT_NOTIFY' }, { listenerPath: '/x' }), 'syscalls[0].action', 'notify_write'],
  ];
  for (const [label, input, path, code] of cases) {
    await t.test(label, () => {
      const issues = issuesOf(input);
      assert.ok(
        issues.some((i) => formatPath(i.path) === path && i.code === code),
        `want ${path} ${code}, got:\n${issues.map((i) => `${formatPath(i.path)} ${i.code}`).join('\n')}`,
      );
    });
  }
});

test('parseProfile() rejects two comparisons on one argument and says why', () => {
  const issues = issuesOf(withRule({
    names: ['socket'],
    action: 'SCMP_ACT_ERRNO',
    args: [{ index: 0, value: 38, op: 'SCMP_CMP_NE' }, { index: 1, value: 1, op: 'SCMP_CMP_EQ' }, { index: 0, value: 40, op: 'SCMP_CMP_NE' }],
  }));
  assert.equal(issues.length, 1);
  assert.equal(formatPath(issues[0]?.path ?? []), 'syscalls[0].args[2].index');
  assert.equal(issues[0]?.code, 'duplicate_arg_index');
  assert.match(issues[0]?.message ?? '', /args\[0\]/);
  assert.match(issues[0]?.message ?? '', /AND into an OR/);
  // Different arguments in one rule are fine.
  valueOf(withRule({ names: ['socket'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }, { index: 1, value: 2, op: 'SCMP_CMP_EQ' }] }));
});

test('parseProfile() reports every issue, not just the first', () => {
  const issues = issuesOf({ defaultAction: 'SCMP_ACT_NOPE', syscalls: [{ names: ['mkdirr'], action: 'SCMP_ACT_ALLOW' }, { names: ['rmdir'], action: 'X' }] });
  assert.deepEqual(issues.map((i) => formatPath(i.path)), ['defaultAction', 'syscalls[0].names[0]', 'syscalls[1].action']);
});

test('parseProfile() accepts names of other arches and warns about ignored values', () => {
  const { value, warnings } = valueOf({
    defaultAction: 'SCMP_ACT_ALLOW',
    defaultErrnoRet: 1,
    bogus: true,
    syscalls: [
      { names: ['chown32', 's390_runtime_instr', 'riscv_flush_icache'], action: 'SCMP_ACT_ERRNO' },
      { names: ['mkdir'], action: 'SCMP_ACT_TRAP', errnoRet: 5 },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['SYS_ADMIN'], arches: ['x86_64'] }, args: [{ index: 0, value: 1, valueTwo: 2, op: 'SCMP_CMP_EQ' }] },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] },
      { names: ['umask'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2, valueTwo: 4, op: 'SCMP_CMP_MASKED_EQ' }, { index: 1, value: 6, valueTwo: 4, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  });
  assert.equal(value.syscalls.length, 5);
  assert.deepEqual(
    warnings.map((w) => `${formatPath(w.path)} ${w.code}`),
    [
      'bogus unknown_key',
      'defaultErrnoRet errno_ignored',
      'syscalls[1].errnoRet errno_ignored',
      'syscalls[2].args[0].valueTwo value_two_ignored',
      'syscalls[2].includes.caps[0] unknown_cap',
      'syscalls[2].includes.arches[0] unknown_arch',
      'syscalls[3].args[0].value imprecise_number',
      'syscalls[4].args[0].valueTwo never_matches',
    ],
  );
});

test('parseProfile() accepts SCMP_ARCH_LOONGARCH64 with a warning and leaves it out', () => {
  const { value, warnings } = valueOf({ ...base, archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: null }, { architecture: 'SCMP_ARCH_LOONGARCH64', subArchitectures: null }] });
  assert.equal(value.archMap?.length, 1);
  assert.deepEqual(warnings.map((w) => w.code), ['unsupported_arch']);
});

test('parseProfile() reads the reconstructed moby default.json', (t) => {
  if (seccompFixtureDir() === undefined) return t.skip('test/fixtures/seccomp not found');
  const { value, warnings } = valueOf(readFixtureJson('moby-default-reconstructed.json'));
  assert.equal(value.syscalls.length, 33);
  assert.deepEqual(warnings.map((w) => w.code), ['unsupported_arch']);
});

test('formatIssues() prints path: message, one per line', () => {
  assert.equal(
    formatIssues([
      { path: ['syscalls', 2, 'action'], code: 'unknown_action', message: 'Unknown action "SCMP_ACT_NOPE"' },
      { path: [], code: 'invalid_type', message: 'Expected a JSON object, got null' },
    ]),
    'syscalls[2].action: Unknown action "SCMP_ACT_NOPE"\nExpected a JSON object, got null',
  );
  const issues = issuesOf({ ...base, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }, { names: ['mkdir'], action: 'SCMP_ACT_ALLOW' }, { names: ['mkdir'], action: 'SCMP_ACT_NOPE' }] });
  assert.equal(formatIssues(issues), 'syscalls[2].action: Unknown action "SCMP_ACT_NOPE"');
});
