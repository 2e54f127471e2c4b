// `moat events [--since T] [--until T] [-f KEY=VALUE…]`: one line per event.
import type { Command } from 'commander';
import { collect, type CliContext } from '../common.js';

export function registerEventsCommand(program: Command, ctx: CliContext): void {
  program.command('events').option('--since <t>').option('--until <t>').option('-f, --filter <kv>', 'filter', collect, []).action(async (o: { since?: string; until?: string; filter: string[] }) => {
    const filters: Record<string, Record<string, boolean>> = {};
    for (const f of o.filter) {
      const i = f.indexOf('=');
      (filters[f.slice(0, i)] ??= {})[f.slice(i + 1)] = true;
    }
    const q = new URLSearchParams();
    if (o.since) q.set('since', o.since);
    if (o.until) q.set('until', o.until);
    if (o.filter.length) q.set('filters', JSON.stringify(filters));
    const res = await ctx.client().request('GET', `/events?${q.toString()}`);
    let buf = '';
    for await (const chunk of res) {
      buf += String(chunk);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buf.slice(0, nl)) as { timeNano: number; Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
        buf = buf.slice(nl + 1);
        const attrs = Object.entries(ev.Actor.Attributes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(', ');
        process.stdout.write(`${new Date(ev.timeNano / 1e6).toISOString()} ${ev.Type} ${ev.Action} ${ev.Actor.ID} (${attrs})\n`);
      }
    }
  });
}
