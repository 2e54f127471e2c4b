/**
 * Lexical path helpers of Docker requests (host paths in bodies, mount targets, device
 * paths), shared by the canonicalizer, the policy and the mount parser. Pure: no I/O.
 */

/**
 * Clean an absolute path lexically, as Go's `filepath.Clean`: collapse repeated slashes,
 * drop `.` segments, resolve `..` against the preceding segment (never above `/`), drop a
 * trailing slash. `//etc` → `/etc`, `/tmp/../etc` → `/etc`.
 *
 * @example
 * cleanAbsolutePath('/tmp/..//etc/') // '/etc'
 */
export function cleanAbsolutePath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/**
 * True when `path` is `prefix` or lies below it, comparing whole path components:
 * `/home` covers `/home` and `/home/a`, never `/homeevil`. Both are cleaned first.
 *
 * @example
 * isPathWithin('/srv/data/x', '/srv/data') // true
 * isPathWithin('/srv/database', '/srv/data') // false
 */
export function isPathWithin(path: string, prefix: string): boolean {
  const p = cleanAbsolutePath(path);
  const pre = cleanAbsolutePath(prefix);
  if (pre === '/') return true;
  return p === pre || p.startsWith(pre + '/');
}

/** The parent of a cleaned absolute path (`/` for `/`). */
export function parentPath(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * Lexically cleans a path like Go's `path.Clean`: `//etc` → `/etc`, `/tmp/../etc` → `/etc`,
 * `a/./b/` → `a/b`, `''` → `.`. `..` never climbs above `/`; a relative path stays relative.
 *
 * @example
 * cleanPath('a/../..') // '..'
 */
export function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else {
      out.push(seg);
    }
  }
  const joined = out.join('/');
  if (abs) return `/${joined}`;
  return joined === '' ? '.' : joined;
}
