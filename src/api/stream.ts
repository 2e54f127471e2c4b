// Docker's stdcopy framing for non-TTY streams: [stream, 0, 0, 0, len (u32 BE)] + payload.

export function frame(stream: 0 | 1 | 2 | 3, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** Split a buffer of frames; returns complete frames and the remainder. Pure. */
export function parseFrames(buf: Buffer): { frames: Array<{ stream: number; data: Buffer }>; rest: Buffer } {
  const frames: Array<{ stream: number; data: Buffer }> = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUInt32BE(off + 4);
    if (buf.length - off - 8 < len) break;
    frames.push({ stream: buf[off]!, data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

const BATCH = 64 * 1024;

/**
 * Log entries written as Docker's stream (frames unless `raw`), batched into 64 KiB writes:
 * one `write()` per log line costs more than reading it. `write` returns false when the
 * client is behind (the reader then waits for drain), `flush` sends a partial batch.
 */
export function batchedLogWriter(out: (chunk: Buffer) => boolean, o: { raw: boolean; prefix?: (time: string) => string }): {
  write(e: { stream: 'stdout' | 'stderr'; content: Buffer; partial: boolean; time: string }): boolean;
  flush(): boolean;
} {
  let batch = Buffer.allocUnsafe(BATCH);
  let used = 0;
  const flush = (): boolean => {
    if (used === 0) return true;
    const chunk = batch.subarray(0, used);
    // The written buffer belongs to the socket until sent: never reuse it.
    batch = Buffer.allocUnsafe(BATCH);
    used = 0;
    return out(chunk);
  };
  return {
    write(e) {
      const prefix = o.prefix ? Buffer.from(o.prefix(e.time), 'latin1') : undefined;
      const payload = (prefix?.length ?? 0) + e.content.length + (e.partial ? 0 : 1);
      const need = payload + (o.raw ? 0 : 8);
      let ok = true;
      if (used + need > batch.length) {
        ok = flush();
        if (need > batch.length) batch = Buffer.allocUnsafe(need);
      }
      if (!o.raw) {
        batch[used] = e.stream === 'stderr' ? 2 : 1;
        batch[used + 1] = 0;
        batch[used + 2] = 0;
        batch[used + 3] = 0;
        batch.writeUInt32BE(payload, used + 4);
        used += 8;
      }
      if (prefix) used += prefix.copy(batch, used);
      used += e.content.copy(batch, used);
      if (!e.partial) batch[used++] = 0x0a;
      return ok;
    },
    flush,
  };
}
