/**
 * Resolves a step's `USER` (`name`, `uid`, `name:group`, `uid:gid`, ...) against the root
 * filesystem's /etc/passwd and /etc/group, as Docker and BuildKit do: a name must exist, a number
 * need not (it then runs with gid 0 unless a group is given), the primary group comes from
 * passwd, and supplementary groups are those that list the user as a member. Pure: the files'
 * contents are passed in (undefined when the image has none).
 */
import { UserNotFoundError } from './errors.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  /** From passwd, for HOME when the step's environment has none. */
  readonly home: string;
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

const ID = /^\d+$/;
const MAX_ID = 0xfffffffe;

export function resolveUser(spec: string, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const [userPart = '', groupPart] = spec.trim().split(':', 2);
  const users = parsePasswd(passwd ?? '');
  const groups = parseGroups(group ?? '');

  let uid: number;
  let gid: number;
  let home = '/';
  let name: string | undefined;
  if (userPart === '') {
    uid = 0;
    gid = 0;
  } else if (ID.test(userPart)) {
    uid = parseId(userPart, spec);
    const entry = users.find((u) => u.uid === uid);
    gid = entry?.gid ?? 0;
    home = entry?.home ?? '/';
    name = entry?.name;
  } else {
    const entry = users.find((u) => u.name === userPart);
    if (!entry) throw new UserNotFoundError(userPart, '/etc/passwd');
    ({ uid, gid, home, name } = entry);
  }
  if (uid === 0 && userPart === '') {
    const root = users.find((u) => u.uid === 0);
    home = root?.home ?? '/root';
    name = root?.name;
  }

  if (groupPart !== undefined && groupPart !== '') {
    if (ID.test(groupPart)) gid = parseId(groupPart, spec);
    else {
      const entry = groups.find((g) => g.name === groupPart);
      if (!entry) throw new UserNotFoundError(groupPart, '/etc/group');
      gid = entry.gid;
    }
  }
  const additionalGids = name === undefined ? [] : groups.filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid);
  return { uid, gid, additionalGids: [...new Set(additionalGids)], home };
}

function parseId(text: string, spec: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id > MAX_ID) throw new UserNotFoundError(spec, '/etc/passwd');
  return id;
}

function parsePasswd(text: string): PasswdEntry[] {
  return records(text, 7).flatMap((f) =>
    ID.test(f[2]!) && ID.test(f[3]!) ? [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' }] : [],
  );
}

function parseGroups(text: string): GroupEntry[] {
  return records(text, 4).flatMap((f) =>
    ID.test(f[2]!) ? [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) }] : [],
  );
}

/** Colon-separated records with at least `fields` fields; comments and blank lines skipped. */
function records(text: string, fields: number): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'))
    .filter((f) => f.length >= fields);
}
