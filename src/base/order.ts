// String order for sorting names, protocols and addresses: by UTF-16 code units, as Go's
// sort.Strings orders dockerd's lists (byte-wise, the same for these ASCII names).
// Not localeCompare: its first call loads ICU's collation data, ~3 MiB of RSS that a
// long-running daemon then keeps (docs/performance.md, phase C part 3).

/** -1, 0 or 1: `a` before, equal to, or after `b` by code units. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
