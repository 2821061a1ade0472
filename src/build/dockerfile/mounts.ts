/**
 * `RUN --mount=…` values (CSV `key=value` fields, as BuildKit reads them) into mounts with BuildKit's
 * defaults: type `bind`; bind read-only from the context root; cache `sharing=shared`, id = the
 * target as written (cleaned), mode 0755 owned by 0:0; secret id = `source`, `id` or the target's
 * base name, at `/run/secrets/<id>` unless `env=` only, mode 0400 owned by 0:0, optional unless
 * `required`. Values are expanded, except `from`, which refuses variables.
 */
import { posix } from 'node:path';
import type { RunMount, StageBase } from './model.js';
import { ramInBytes } from './values.js';

export class MountError extends Error {}
/** Valid for BuildKit, not run by Cairn (ssh mounts). */
export class MountUnsupportedError extends Error {}

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING = ['shared', 'private', 'locked'];

/** One CSV record (encoding/csv rules: `"` quotes a field, `""` inside is a quote). */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new MountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new MountError(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end < 0 ? text.length : end);
      if (field.includes('"')) throw new MountError('failed to parse csv mounts: bare " in non-quoted-field');
      i = end < 0 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new MountError(`invalid value for ${key}: ${value}`);
}

function parseUint(key: string, value: string, radix: 8 | 10): number {
  const digits = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  const n = Number.parseInt(value, radix);
  if (!digits.test(value) || n > 0xffffffff) throw new MountError(`invalid value ${value} for ${key}`);
  return n;
}

export interface MountContext {
  /** Expands one value (shell-word rules, the step's environment). */
  expand(value: string): string;
  /** Resolves `from=`: an earlier stage, or an image reference. */
  from(name: string): StageBase;
  /** The working directory relative targets join. */
  workdir: string;
}

export function parseMount(spec: string, context: MountContext): RunMount {
  let type = 'bind';
  let from: string | undefined;
  let source: string | undefined;
  let target: string | undefined;
  let readonly: boolean | undefined;
  let required = false;
  let size: number | undefined;
  let id: string | undefined;
  let sharing: string | undefined;
  let mode: number | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  let env: string | undefined;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') readonly = true;
      else if (key === 'readwrite' || key === 'rw') readonly = false;
      else if (key === 'required' && (type === 'secret' || type === 'ssh')) required = true;
      else if (key === 'required') throw new MountError(`unexpected key '${key}' for mount type '${type}'`);
      else throw new MountError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const raw = field.slice(eq + 1);
    if (key === 'from' && /\$./.test(raw)) throw new MountError("'from' doesn't support variable expansion, define alias stage instead");
    const value = key === 'from' ? raw : context.expand(raw);
    switch (key) {
      case 'type':
        type = value.toLowerCase();
        if (!TYPES.includes(type)) throw new MountError(`unsupported mount type "${value}"`);
        break;
      case 'from':
        from = value;
        break;
      case 'source':
      case 'src':
        source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        target = value;
        break;
      case 'readonly':
      case 'ro':
        readonly = parseBool(key, value);
        break;
      case 'readwrite':
      case 'rw':
        readonly = !parseBool(key, value);
        break;
      case 'required':
        if (type !== 'secret' && type !== 'ssh') throw new MountError(`unexpected key '${key}' for mount type '${type}'`);
        required = parseBool(key, value);
        break;
      case 'size':
        if (type !== 'tmpfs') throw new MountError(`unexpected key '${key}' for mount type '${type}'`);
        size = ramInBytes(value);
        if (size === undefined) throw new MountError(`invalid value for ${key}: ${value}`);
        break;
      case 'id':
        id = value;
        break;
      case 'sharing':
        sharing = value.toLowerCase();
        if (!SHARING.includes(sharing)) throw new MountError(`unsupported sharing value "${value}"`);
        break;
      case 'mode':
        mode = parseUint('mode', value, 8);
        break;
      case 'uid':
        uid = parseUint('uid', value, 10);
        break;
      case 'gid':
        gid = parseUint('gid', value, 10);
        break;
      case 'env':
        if (type !== 'secret') throw new MountError(`unexpected key '${key}' for mount type '${type}'`);
        env = value;
        break;
      default:
        throw new MountError(`unexpected key '${key}' in '${field}'`);
    }
  }

  if (type !== 'secret' && type !== 'ssh' && type !== 'cache') {
    if (mode !== undefined) throw new MountError(`mode not allowed for "${type}" type mounts`);
    if (uid !== undefined) throw new MountError(`uid not allowed for "${type}" type mounts`);
    if (gid !== undefined) throw new MountError(`gid not allowed for "${type}" type mounts`);
  }
  if (sharing !== undefined && type !== 'cache') throw new MountError(`invalid cache sharing set for ${type} mount`);
  if (type === 'ssh') throw new MountUnsupportedError('RUN --mount=type=ssh is not supported: Cairn forwards no SSH agent into builds');

  const absolute = (t: string): string => {
    const joined = posix.isAbsolute(t) ? posix.normalize(t) : posix.join(context.workdir || '/', t);
    const clean = joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
    if (clean === '/') throw new MountError(`invalid mount target "${t}"`);
    return clean;
  };

  if (type === 'secret') {
    if (from !== undefined) throw new MountError('secret mount should not have a from');
    if (source === undefined && target === undefined && id === undefined && env === undefined) throw new MountError('invalid secret mount. one of source, target required');
    if (source !== undefined && id !== undefined) throw new MountError("both source and id can't be set");
    const secretId = source ?? id ?? (target !== undefined ? posix.basename(target) : undefined);
    if (!secretId) throw new MountError('one of source, target required');
    const secretTarget = target !== undefined ? absolute(target) : env === undefined ? `/run/secrets/${posix.basename(secretId)}` : undefined;
    return {
      type: 'secret',
      id: secretId,
      ...(secretTarget !== undefined ? { target: secretTarget } : {}),
      ...(env !== undefined ? { env } : {}),
      required,
      mode: mode ?? 0o400,
      uid: uid ?? 0,
      gid: gid ?? 0,
    };
  }

  if (target === undefined || target === '') throw new MountError(`mount type "${type}" requires a target`);
  const fromBase = from === undefined || from === '' ? undefined : context.from(from);
  if (type === 'tmpfs') return { type: 'tmpfs', target: absolute(target), ...(size !== undefined ? { size } : {}) };
  if (type === 'cache') {
    return {
      type: 'cache',
      target: absolute(target),
      // BuildKit: the id defaults to the target as written, cleaned (before joining WORKDIR).
      id: id !== undefined && id !== '' ? id : posix.normalize(target).replace(/(.)\/+$/, '$1'),
      sharing: (sharing ?? 'shared') as 'shared' | 'private' | 'locked',
      readonly: readonly ?? false,
      ...(fromBase ? { from: fromBase } : {}),
      ...(source !== undefined ? { source } : {}),
      mode: mode ?? 0o755,
      uid: uid ?? 0,
      gid: gid ?? 0,
    };
  }
  return { type: 'bind', target: absolute(target), source: source === undefined || source === '' ? '/' : source, ...(fromBase ? { from: fromBase } : {}), readwrite: readonly === false };
}
