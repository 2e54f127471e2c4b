// `--user name|uid[:group|gid]` and `--group-add`, resolved against the image's
// /etc/passwd and /etc/group text. Pure.
import { invalid } from '../base/index.js';
import { parsePasswd, parseGroup } from '../userns/index.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

/**
 * Resolve Config.User and HostConfig.GroupAdd the way Docker does (runc's
 * `user.GetExecUser`, moby's getUser): a name must exist in passwd; a numeric uid need not.
 */
export function resolveUser(spec: string, files: { passwd: string; group: string; groupAdd?: readonly string[] }): ResolvedUser {
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);
  const [userPart = '', groupPart] = spec.split(':', 2) as [string, string | undefined];
  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  if (userPart === '') {
    const root = passwd.find((p) => p.uid === 0);
    name = root?.name ?? 'root';
    home = root?.home || '/root';
  } else if (isNum(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) {
      gid = entry.gid;
      home = entry.home || '/';
      name = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
    home = entry.home;
    name = entry.name;
  }
  if (uid > 0xfffffffe) throw invalid(`uids and gids must be in range 0-4294967294`);
  if (groupPart !== undefined && groupPart !== '') {
    if (isNum(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) throw invalid(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  }
  // moby's getUser: the primary gid is the first supplementary group too (`id` shows it in
  // `groups=`; it stays a member after a setgid), then the user's groups and --group-add.
  const additional = new Set<number>([gid]);
  if (name !== undefined && (groupPart === undefined || groupPart === '')) {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  }
  for (const ga of files.groupAdd ?? []) {
    if (isNum(ga)) additional.add(Number(ga));
    else {
      const g = groups.find((x) => x.name === ga);
      if (!g) throw invalid(`Unable to find group ${ga}: no matching entries in group file`);
      additional.add(g.gid);
    }
  }
  return { uid, gid, additionalGids: [...additional], home };
}
