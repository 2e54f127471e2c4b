// Apply and remove moat's own iptables rules (guard-rules.ts) with the iptables command
// (iptables-nft on Debian 12, the same one netavark uses). Host.
import { createHash } from 'node:crypto';
import { cleanStderr, runCommand, runChecked } from './exec.js';
import { findGuardRules, guardRules, type GuardRule, type IptablesTable, type SavedRule } from './guard-rules.js';
import type { NetworkRecord } from './types.js';

const IPTABLES = 'iptables';
const TIMEOUT_MS = 20_000;

async function exists(rule: GuardRule): Promise<boolean> {
  const r = await runCommand([IPTABLES, '-w', '-t', rule.table, '-C', rule.chain, ...rule.spec], { timeoutMs: TIMEOUT_MS });
  return r.code === 0;
}

/** Insert the rule at the top of its chain unless it is there already. */
export async function ensureRule(rule: GuardRule): Promise<void> {
  if (await exists(rule)) return;
  await runChecked([IPTABLES, '-w', '-t', rule.table, '-I', rule.chain, '1', ...rule.spec], { timeoutMs: TIMEOUT_MS });
}

/** Delete every copy of the rule; no error when there is none. */
export async function removeRule(rule: GuardRule): Promise<void> {
  for (let i = 0; i < 16 && (await exists(rule)); i++) {
    const r = await runCommand([IPTABLES, '-w', '-t', rule.table, '-D', rule.chain, ...rule.spec], { timeoutMs: TIMEOUT_MS });
    if (r.code !== 0 && (await exists(rule))) throw new Error(`Cannot delete iptables rule ${rule.chain} ${rule.spec.join(' ')}: ${cleanStderr(r.stderr)}`);
  }
}

export async function applyGuardRules(n: NetworkRecord, tag: string): Promise<void> {
  for (const rule of guardRules(n, tag)) await ensureRule(rule);
}

export async function removeGuardRules(n: NetworkRecord, tag: string): Promise<void> {
  for (const rule of guardRules(n, tag)) await removeRule(rule);
}

export async function iptablesSave(table?: string): Promise<string> {
  const r = await runChecked(['iptables-save', ...(table !== undefined ? ['-t', table] : [])], { timeoutMs: TIMEOUT_MS });
  return r.stdout;
}

/** Every guard rule this moat instance has in the kernel. */
export async function listGuardRules(tag: string): Promise<SavedRule[]> {
  const out: SavedRule[] = [];
  for (const table of ['raw', 'mangle'] as IptablesTable[]) out.push(...findGuardRules(await iptablesSave(table), { table, tag }));
  return out;
}

export async function deleteSavedRule(rule: SavedRule): Promise<void> {
  await removeRule({ table: rule.table, chain: rule.chain, spec: rule.spec });
}

/**
 * Delete a chain when it is empty and unreferenced (iptables refuses otherwise). netavark
 * 1.4 leaks its per-network `NETAVARK-DN-<hash>` chain when the last container to leave a
 * network had no published ports (it deletes the chain only in a teardown that carries
 * port mappings; measured).
 */
export async function removeEmptyChain(table: string, chain: string): Promise<boolean> {
  const r = await runCommand([IPTABLES, '-w', '-t', table, '-S', chain], { timeoutMs: TIMEOUT_MS });
  if (r.code !== 0) return false;
  const rules = r.stdout.split('\n').filter((l) => l.startsWith('-A '));
  if (rules.length > 0) return false;
  const x = await runCommand([IPTABLES, '-w', '-t', table, '-X', chain], { timeoutMs: TIMEOUT_MS });
  return x.code === 0;
}

/** The chain-name hash netavark 1.4 derives from a network name (core_utils.rs create_network_hash). */
export function netavarkNetworkHash(networkName: string): string {
  return createHash('sha512').update(networkName).digest('hex').toUpperCase().slice(0, 13);
}

/**
 * netavark's nat rules that still name a container: its DNAT jump carries `id: <containerId>`
 * in a comment and its DNAT targets `--to-destination <ip>:`. Used to check a forced teardown.
 */
export async function containerRulesLeft(containerId: string, ip: string): Promise<string[]> {
  const nat = await iptablesSave('nat');
  return nat.split('\n').filter((l) => l.startsWith('-A ') && (l.includes(`id: ${containerId}`) || l.includes(`--to-destination ${ip}:`)));
}
