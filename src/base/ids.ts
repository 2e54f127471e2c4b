import { randomBytes } from 'node:crypto';

/** A new 64-hex-character id, as Docker's container and exec ids. */
export function newId(): string {
  for (;;) {
    const id = randomBytes(32).toString('hex');
    // Docker avoids all-digit short ids: they could be mistaken for numbers.
    if (!/^\d{12}/.test(id)) return id;
  }
}

export function shortId(id: string): string {
  return id.startsWith('sha256:') ? id.slice(7, 19) : id.slice(0, 12);
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's container name rule: two characters or more of [a-zA-Z0-9][a-zA-Z0-9_.-]. */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'keen', 'quiet', 'sharp', 'steady', 'vivid', 'wise', 'bold', 'gentle'];
const NOUNS = ['otter', 'heron', 'lynx', 'badger', 'falcon', 'marten', 'beaver', 'wren', 'stoat', 'ibis', 'vole', 'pike'];

/** A random human name like Docker's `adjective_surname`. */
export function randomName(): string {
  const a = ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length]!;
  const n = NOUNS[randomBytes(1)[0]! % NOUNS.length]!;
  return `${a}_${n}${randomBytes(2).readUInt16BE(0) % 1000}`;
}
