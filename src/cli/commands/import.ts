// `moat import [-c INSTRUCTION…] [-m MSG] FILE|- [REFERENCE]`: a rootfs tarball as an image.
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { ApiError, readAll } from '../client.js';
import { collect, daemonError, type CliContext } from '../common.js';

export function registerImportCommand(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .argument('<file>', 'tarball, or - for stdin')
    .argument('[reference]')
    .option('-c, --change <instruction>', 'CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL…', collect, [])
    .option('-m, --message <msg>', 'commit message')
    .action(async (file: string, ref: string | undefined, o: { change: string[]; message?: string }) => {
      const q = new URLSearchParams({ fromSrc: '-' });
      if (ref) q.set('repo', ref);
      for (const ch of o.change) q.append('changes', ch);
      if (o.message) q.set('message', o.message);
      const input = file === '-' ? process.stdin : createReadStream(file);
      try {
        const res = await ctx.client().request('POST', `/images/create?${q.toString()}`, { raw: input, headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } });
        const body = (await readAll(res)).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, (JSON.parse(body) as { message: string }).message);
        const last = body.trim().split('\n').pop() ?? '{}';
        process.stdout.write(`${(JSON.parse(last) as { status: string }).status}\n`);
      } catch (err) {
        throw daemonError(err);
      }
    });
}
