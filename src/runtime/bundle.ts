// Writes an OCI bundle's config.json for a container run with runc directly (moat seccomp
// record, the kernel tests' probe bundles). moatd's own bundles are written by the engine.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toOciJson, type Spec } from '../spec/index.js';

/**
 * Writes `<dir>/config.json` (mode 0600). The file must not exist yet: O_EXCL also refuses a
 * planted symlink. Returns its path.
 *
 * @example
 * writeBundleSync(mkdtempSync('/tmp/moat-sc-'), standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: [], cgroupsPath: 'moat-test/abc' }));
 */
export function writeBundleSync(dir: string, spec: Spec): string {
  const path = join(dir, 'config.json');
  writeFileSync(path, toOciJson(spec, { indent: 2 }) + '\n', { mode: 0o600, flag: 'wx' });
  return path;
}
