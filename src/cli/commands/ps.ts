// `moat ps [-a] [-q] [--no-trunc] [-f KEY=VALUE…]`
import type { Command } from 'commander';
import { collect, daemonError, table, type CliContext } from '../common.js';

export function registerPsCommand(program: Command, ctx: CliContext): void {
  program
    .command('ps')
    .option('-a, --all', 'all containers')
    .option('-q, --quiet', 'ids only')
    .option('--no-trunc', 'full ids')
    .option('-f, --filter <kv>', 'filter key=value', collect, [])
    .action(async (o: { all?: boolean; quiet?: boolean; trunc: boolean; filter: string[] }) => {
      const filters: Record<string, Record<string, boolean>> = {};
      for (const f of o.filter) {
        const i = f.indexOf('=');
        const k = f.slice(0, i);
        (filters[k] ??= {})[f.slice(i + 1)] = true;
      }
      const q = `?all=${o.all ? 1 : 0}${o.filter.length ? `&filters=${encodeURIComponent(JSON.stringify(filters))}` : ''}`;
      try {
        const list = await ctx.client().json<Array<{ Id: string; Image: string; Command: string; Created: number; Status: string; Names: string[] }>>('GET', `/containers/json${q}`);
        if (o.quiet) {
          for (const x of list) process.stdout.write(`${o.trunc ? x.Id.slice(0, 12) : x.Id}\n`);
          return;
        }
        const now = Date.now() / 1000;
        const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES']];
        for (const x of list) {
          const ago = Math.max(0, Math.round(now - x.Created));
          const cmd = o.trunc && x.Command.length > 20 ? `${x.Command.slice(0, 19)}…` : x.Command;
          rows.push([o.trunc ? x.Id.slice(0, 12) : x.Id, x.Image, `"${cmd}"`, `${ago} seconds ago`, x.Status, x.Names.map((n) => n.slice(1)).join(',')]);
        }
        process.stdout.write(table(rows));
      } catch (err) {
        throw daemonError(err);
      }
    });
}
