// Test helper: the repository's own copies of the captured fixtures (test/fixtures/<name>),
// found by walking up from the compiled file or the working directory to the repository.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findUp(start: string, sub: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'fixtures', sub))) return join(dir, 'test', 'fixtures', sub);
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** `test/fixtures/<sub>` of this repository (authz, docker-cli-traces, seccomp, bpf). */
export function fixtureDir(sub: string): string {
  const dir = findUp(dirname(fileURLToPath(import.meta.url)), sub) ?? findUp(process.cwd(), sub);
  if (dir === undefined) throw new Error(`Cannot find test/fixtures/${sub} above ${fileURLToPath(import.meta.url)}`);
  return dir;
}
