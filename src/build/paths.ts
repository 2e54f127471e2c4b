// Path rules of COPY/ADD sources (pure): Go's filepath.Match, which the classic builder uses
// for wildcard sources, and the cleaning that keeps a source inside the build context.
import { invalid } from '../base/index.js';

/** True when `s` has an unescaped wildcard (`*`, `?`, `[`). */
export function hasWildcard(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/**
 * Go's `filepath.Match` on '/'-separated names: `*` and `?` never match '/', `[...]` classes
 * with ranges and `^`/`!` negation, `\` escapes. A malformed pattern is a 400.
 *
 * @example
 * matchPath('src/*.ts', 'src/a.ts') // true
 * matchPath('*.ts', 'src/a.ts')     // false
 */
export function matchPath(pattern: string, name: string): boolean {
  const memo = new Map<string, boolean>();
  const at = (pi: number, ni: number): boolean => {
    const key = `${pi},${ni}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (pi === pattern.length) r = ni === name.length;
    else {
      const c = pattern[pi]!;
      if (c === '*') r = at(pi + 1, ni) || (ni < name.length && name[ni] !== '/' && at(pi, ni + 1));
      else if (ni >= name.length) r = false;
      else if (c === '?') r = name[ni] !== '/' && at(pi + 1, ni + 1);
      else if (c === '[') {
        const end = classEnd(pattern, pi);
        r = name[ni] !== '/' && classMatches(pattern.slice(pi + 1, end), name[ni]!) && at(end + 1, ni + 1);
      } else if (c === '\\') {
        if (pi + 1 >= pattern.length) throw invalid(`syntax error in pattern ${JSON.stringify(pattern)}`);
        r = pattern[pi + 1] === name[ni] && at(pi + 2, ni + 1);
      } else r = c === name[ni] && at(pi + 1, ni + 1);
    }
    memo.set(key, r);
    return r;
  };
  return at(0, 0);
}

function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^' || pattern[i] === '!') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']') return i;
  }
  throw invalid(`syntax error in pattern ${JSON.stringify(pattern)}`);
}

function classMatches(cls: string, ch: string): boolean {
  let negate = false;
  let i = 0;
  if (cls[0] === '^' || cls[0] === '!') {
    negate = true;
    i = 1;
  }
  let hit = false;
  while (i < cls.length) {
    let lo = cls[i]!;
    if (lo === '\\') lo = cls[++i] ?? '';
    i++;
    let hi = lo;
    if (cls[i] === '-' && i + 1 < cls.length) {
      hi = cls[i + 1]!;
      if (hi === '\\') hi = cls[i + 2] ?? '';
      i += hi === cls[i + 1] ? 2 : 3;
    }
    if (ch >= lo && ch <= hi) hit = true;
  }
  return hit !== negate;
}

/**
 * A COPY/ADD source as a path relative to the context root ('' for the root itself). A path
 * that leaves the context is a 400 with Docker's words.
 *
 * @example
 * contextPath('./src/../a.txt') // 'a.txt'
 */
export function contextPath(src: string): string {
  const out: string[] = [];
  for (const seg of src.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw invalid(`forbidden path outside the build context: ${src} ()`);
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

/** The last component of a path ('' for the root). */
export function baseName(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  return parts[parts.length - 1] ?? '';
}

/** The `.dockerignore` patterns of a file's text, as Docker reads them (comments and blanks out, `/` prefix dropped, cleaned). */
export function readIgnorePatterns(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1).trim();
    }
    line = cleanPattern(line);
    if (line === '') continue;
    out.push(negate ? `!${line}` : line);
  }
  return out;
}

function cleanPattern(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}
