import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { kernelRunsX32 } from './libc.js';

// The kernel's build config as an oracle (moatd itself asks the kernel, never this file).
test('kernelRunsX32() agrees with the kernel config and command line', (t) => {
  if (process.arch !== 'x64') {
    assert.equal(kernelRunsX32(), false);
    return;
  }
  if (!existsSync('/proc/config.gz')) {
    t.skip('no /proc/config.gz to compare with');
    return;
  }
  const config = execFileSync('zcat', ['/proc/config.gz'], { encoding: 'utf8' });
  const built = /^CONFIG_X86_X32_ABI=y$/m.test(config);
  const cmdline = readFileSync('/proc/cmdline', 'utf8');
  // CONFIG_X86_X32_DISABLED: built but off unless booted with syscall.x32=y.
  const on = /(^|\s)syscall\.x32=(y|Y|1)(\s|$)/.test(cmdline);
  const off = /(^|\s)syscall\.x32=(n|N|0)(\s|$)/.test(cmdline);
  const offByDefault = /^CONFIG_X86_X32_DISABLED=y$/m.test(config);
  assert.equal(kernelRunsX32(), built && (offByDefault ? on : !off));
});
