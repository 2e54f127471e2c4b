// `moat create IMAGE [COMMAND…]`: POST /containers/create with the run flags; prints the id.
import type { Command } from 'commander';
import type { Client } from '../client.js';
import { daemonError, type CliContext } from '../common.js';
import { addRunFlags, buildCreateBody, flagsOf, type RunFlags } from '../run-options.js';

/** Creates a container and returns its id; the daemon's warnings go to stderr. */
export async function createContainer(client: Client, image: string, cmd: string[], f: RunFlags): Promise<string> {
  const q = f.name ? `?name=${encodeURIComponent(f.name)}` : '';
  const out = await client.json<{ Id: string; Warnings: string[] }>('POST', `/containers/create${q}`, buildCreateBody(image, cmd, f));
  for (const w of out.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  return out.Id;
}

export function registerCreateCommand(program: Command, ctx: CliContext): void {
  addRunFlags(program.command('create').description('create a container').argument('<image>').argument('[command...]').passThroughOptions()).action(async (image: string, cmd: string[], o: Record<string, unknown>) => {
    try {
      process.stdout.write(`${await createContainer(ctx.client(), image, cmd, flagsOf(o))}\n`);
    } catch (err) {
      throw daemonError(err, 1);
    }
  });
}
