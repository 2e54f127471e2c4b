// `moat images [-q]` and `moat images verify IMAGE [--json]` (the image trust policy's verdict).
import type { Command } from 'commander';
import type { Client } from '../client.js';
import { daemonError, humanSize, table, type CliContext } from '../common.js';

interface Verdict {
  allowed: boolean;
  requirement: { qualified: string; rule: string };
  reasons: string[];
}

interface TrustReport {
  image: string;
  id: string;
  allowed: boolean;
  verdicts: Verdict[];
  signatures: Array<{ repository: string; digest: string; keyFingerprint: string; time: string }>;
}

/** Prints why the trust policy allows or refuses an image; exit 1 when refused. */
async function verifyImage(client: Client, ctx: CliContext, image: string, json: boolean): Promise<void> {
  let r: TrustReport;
  try {
    r = await client.json<TrustReport>('GET', `/images/${image}/trust`);
  } catch (err) {
    throw daemonError(err);
  }
  if (json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else {
    process.stdout.write(`${r.image} (${r.id.slice(7, 19)}): ${r.allowed ? 'ALLOWED' : 'REFUSED'} by the image trust policy\n`);
    for (const v of r.verdicts) {
      process.stdout.write(`  ${v.requirement.qualified || '(no name)'}: rule ${v.requirement.rule}: ${v.allowed ? 'allowed' : 'refused'}\n`);
      for (const reason of v.reasons) process.stdout.write(`    - ${reason}\n`);
    }
    for (const s of r.signatures) process.stdout.write(`  verified signature: ${s.repository}@${s.digest} by ${s.keyFingerprint} (${s.time})\n`);
  }
  if (!r.allowed) ctx.setExit(1);
}

export function registerImagesCommand(program: Command, ctx: CliContext): void {
  program
    .command('images')
    .argument('[verb]', '`verify` to explain the trust verdict')
    .argument('[image]')
    .option('-q, --quiet', 'ids only')
    .option('--json', 'with verify: JSON')
    .action(async (verb: string | undefined, target: string | undefined, o: { quiet?: boolean; json?: boolean }) => {
      if (verb !== undefined) {
        if (verb !== 'verify' || target === undefined) throw new Error('usage: moat images [-q] | moat images verify IMAGE');
        await verifyImage(ctx.client(), ctx, target, o.json === true);
        return;
      }
      try {
        const list = await ctx.client().json<Array<{ Id: string; RepoTags: string[]; Created: number; Size: number }>>('GET', '/images/json');
        if (o.quiet) {
          for (const i of list) process.stdout.write(`${i.Id.slice(7, 19)}\n`);
          return;
        }
        const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
        for (const i of list) {
          const tags = i.RepoTags.length > 0 ? i.RepoTags : ['<none>:<none>'];
          for (const t of tags) {
            const k = t.lastIndexOf(':');
            rows.push([t.slice(0, k), t.slice(k + 1), i.Id.slice(7, 19), humanSize(i.Size)]);
          }
        }
        process.stdout.write(table(rows));
      } catch (err) {
        throw daemonError(err);
      }
    });
}
