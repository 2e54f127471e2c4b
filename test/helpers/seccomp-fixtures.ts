// Test helper for the seccomp unit tests: finds and reads test/fixtures/seccomp/.
// Tests run from a compiled dist dir that may live outside the repo, so the repo is found
// by walking up from this file, then from the working directory, to a package.json.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findUp(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'fixtures', 'seccomp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The fixture folder, or undefined when it cannot be found (tests then skip with a reason). */
export function seccompFixtureDir(): string | undefined {
  const root = findUp(dirname(fileURLToPath(import.meta.url))) ?? findUp(process.cwd());
  return root === undefined ? undefined : join(root, 'test', 'fixtures', 'seccomp');
}

export function readFixtureJson(name: string): unknown {
  const dir = seccompFixtureDir();
  if (dir === undefined) throw new Error('Cannot find test/fixtures/seccomp');
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown;
}
