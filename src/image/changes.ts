// `docker import --change` / `docker commit --change` instructions applied to an image config. Pure.
import { invalid } from '../base/index.js';

export interface ImageRuntimeConfig {
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
}

function jsonOrShell(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // not JSON: Docker falls back to the shell form
    }
  }
  return ['/bin/sh', '-c', t];
}

function keyValues(rest: string): Array<[string, string]> {
  const t = rest.trim();
  if (!t.includes('=')) {
    const sp = t.search(/\s/);
    if (sp < 0) throw invalid(`ENV requires two arguments`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  const out: Array<[string, string]> = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = JSON.parse(v) as string;
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
  return out;
}

/** Apply Dockerfile-style change lines (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL). */
export function applyChanges(config: ImageRuntimeConfig, changes: readonly string[]): ImageRuntimeConfig {
  const out: ImageRuntimeConfig = { ...config };
  for (const line of changes) {
    const m = /^\s*(\w+)\s*(.*)$/s.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (op) {
      case 'CMD':
        out.Cmd = jsonOrShell(rest);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = jsonOrShell(rest);
        break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(rest)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL': {
        const labels = { ...(out.Labels ?? {}) };
        for (const [k, v] of keyValues(rest)) labels[k] = v;
        out.Labels = labels;
        break;
      }
      case 'WORKDIR':
        out.WorkingDir = rest.trim();
        break;
      case 'USER':
        out.User = rest.trim();
        break;
      case 'STOPSIGNAL':
        out.StopSignal = rest.trim();
        break;
      case 'EXPOSE': {
        const ports = { ...(out.ExposedPorts ?? {}) };
        for (const p of rest.trim().split(/\s+/)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        out.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(out.Volumes ?? {}) };
        for (const v of jsonOrShell(rest)[0] === '/bin/sh' ? rest.trim().split(/\s+/) : jsonOrShell(rest)) vols[v] = {};
        out.Volumes = vols;
        break;
      }
      default:
        throw invalid(`${op} is not a valid change command`);
    }
  }
  return out;
}
