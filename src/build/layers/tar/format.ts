/**
 * The tar format as OCI layers use it: POSIX ustar headers, with PAX extended records for what a
 * header cannot hold (long or non-ASCII names, large ids or sizes, xattrs). Written the way Go's
 * archive/tar writes BuildKit's layers (containerd's ChangeWriter, `Format = PAX`): the name also
 * kept in the ustar header (cut to 100 bytes), PAX records sorted by key, mtime in whole seconds,
 * no atime/ctime. Pure: bytes in, bytes out.
 *
 * Hand-written rather than tar-stream because tar-stream keeps PAX values as UTF-8 strings, which
 * corrupts binary xattrs (`security.capability`) both ways, and replaces the ustar name of a PAX
 * entry with "PaxHeader".
 */
import { InvalidArchiveError } from '../errors.js';

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarHeader {
  /** Path inside the archive, `/`-separated, directories ending with `/` when written. */
  readonly name: string;
  readonly type: EntryType;
  /** Permission bits with setuid/setgid/sticky (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Unix seconds. */
  readonly mtime: number;
  /** Target of a symlink or hard link. */
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes (PAX `SCHILY.xattr.<name>`), values as raw bytes. */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const XATTR_PREFIX = 'SCHILY.xattr.';

/** The header block(s) of one entry: a PAX extended header first when needed, then ustar. */
export function encodeHeader(header: TarHeader): Buffer {
  const pax = new Map<string, Buffer>();
  const nameFits = isAscii(header.name) && Buffer.byteLength(header.name) <= 100;
  if (!nameFits) pax.set('path', Buffer.from(header.name));
  const linkFits = isAscii(header.linkname) && Buffer.byteLength(header.linkname) <= 100;
  if (!linkFits) pax.set('linkpath', Buffer.from(header.linkname));
  if (header.uid > MAX_OCTAL_7) pax.set('uid', Buffer.from(String(header.uid)));
  if (header.gid > MAX_OCTAL_7) pax.set('gid', Buffer.from(String(header.gid)));
  if (header.size > MAX_OCTAL_11) pax.set('size', Buffer.from(String(header.size)));
  if (header.mtime < 0 || header.mtime > MAX_OCTAL_11) pax.set('mtime', Buffer.from(String(header.mtime)));
  for (const [key, value] of header.xattrs) pax.set(XATTR_PREFIX + key, value);

  const ustar = ustarBlock({
    name: header.name,
    mode: header.mode & 0o7777,
    uid: pax.has('uid') ? 0 : header.uid,
    gid: pax.has('gid') ? 0 : header.gid,
    size: pax.has('size') ? 0 : header.size,
    mtime: pax.has('mtime') ? 0 : header.mtime,
    typeflag: TYPEFLAG[header.type],
    linkname: header.linkname,
    devmajor: header.devmajor,
    devminor: header.devminor,
  });
  if (pax.size === 0) return ustar;

  const body = paxBody(pax);
  const slash = header.name.replace(/\/$/, '').lastIndexOf('/');
  const paxName = slash < 0 ? `PaxHeaders.0/${header.name}` : `${header.name.slice(0, slash)}/PaxHeaders.0/${header.name.slice(slash + 1)}`;
  const paxHeader = ustarBlock({
    name: paxName.replace(/\/$/, ''),
    mode: 0,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, padding(body.length), ustar]);
}

/** Zero bytes that bring `size` bytes of entry data up to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

interface UstarFields {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function ustarBlock(f: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, f.name);
  writeOctal(block, 100, 8, f.mode);
  writeOctal(block, 108, 8, f.uid);
  writeOctal(block, 116, 8, f.gid);
  writeOctal(block, 124, 12, f.size);
  writeOctal(block, 136, 12, f.mtime);
  block.write(f.typeflag, 156, 'latin1');
  writeString(block, 157, 100, f.linkname);
  block.write('ustar\u000000', 257, 'latin1');
  writeOctal(block, 329, 8, f.devmajor);
  writeOctal(block, 337, 8, f.devminor);
  block.fill(0x20, 148, 156);
  const sum = checksum(block);
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

/** PAX records `"<len> <key>=<value>\n"`, sorted by key; the length counts itself. */
function paxBody(records: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const key of [...records.keys()].sort()) {
    const value = records.get(key)!;
    const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
    let length = rest + String(rest).length;
    if (String(length).length !== String(rest).length) length = rest + String(length).length;
    parts.push(Buffer.from(`${length} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

function writeString(block: Buffer, offset: number, size: number, value: string): void {
  const bytes = Buffer.from(value);
  bytes.copy(block, offset, 0, Math.min(size, bytes.length));
}

function writeOctal(block: Buffer, offset: number, size: number, value: number): void {
  block.write(`${Math.max(0, value).toString(8).padStart(size - 1, '0')}\u0000`, offset, 'latin1');
}

function checksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function isAscii(s: string): boolean {
  return /^[\x01-\x7f]*$/.test(s);
}

// ---- reading ----

/** A raw header block, decoded; PAX and GNU long-name records are applied by the reader. */
export interface RawHeader {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Decodes one header block; undefined for a zero block (end of archive). */
export function decodeHeader(block: Buffer): RawHeader | undefined {
  if (block.every((b) => b === 0)) return undefined;
  const stored = parseNumber(block, 148, 8, 'checksum');
  const copy = Buffer.from(block);
  copy.fill(0x20, 148, 156);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    unsigned += copy[i]!;
    signed += (copy[i]! << 24) >> 24;
  }
  if (stored !== unsigned && stored !== signed) throw new InvalidArchiveError('tar header checksum does not match');
  const ustar = block.toString('latin1', 257, 262) === 'ustar';
  let name = readString(block, 0, 100);
  if (ustar && block[345] !== 0) name = `${readString(block, 345, 155)}/${name}`;
  return {
    name,
    typeflag: block[156] === 0 ? '0' : String.fromCharCode(block[156]!),
    mode: parseNumber(block, 100, 8, 'mode'),
    uid: parseNumber(block, 108, 8, 'uid'),
    gid: parseNumber(block, 116, 8, 'gid'),
    size: parseNumber(block, 124, 12, 'size'),
    mtime: parseNumber(block, 136, 12, 'mtime'),
    linkname: readString(block, 157, 100),
    devmajor: ustar ? parseNumber(block, 329, 8, 'devmajor') : 0,
    devminor: ustar ? parseNumber(block, 337, 8, 'devminor') : 0,
  };
}

/** Parses PAX records, values kept as bytes (xattrs are binary). */
export function parsePax(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < body.length) {
    if (body[at] === 0) break; // some writers pad with NULs
    const space = body.indexOf(0x20, at);
    const length = Number(body.toString('latin1', at, space));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0 || at + length > body.length) {
      throw new InvalidArchiveError('malformed PAX record');
    }
    const record = body.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals < 0 || body[at + length - 1] !== 0x0a) throw new InvalidArchiveError('malformed PAX record');
    records.set(record.toString('utf8', 0, equals), Buffer.from(record.subarray(equals + 1)));
    at += length;
  }
  return records;
}

export function xattrsOf(pax: ReadonlyMap<string, Buffer>): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of pax) if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), value);
  return xattrs;
}

function readString(block: Buffer, offset: number, size: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end < 0 || end > offset + size ? offset + size : end);
}

function parseNumber(block: Buffer, offset: number, size: number, field: string): number {
  if ((block[offset]! & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement with the top bit set.
    let value = 0;
    for (let i = offset + 1; i < offset + size; i++) value = value * 256 + block[i]!;
    if (!Number.isSafeInteger(value)) throw new InvalidArchiveError(`tar ${field} is out of range`);
    return value;
  }
  const text = block.toString('latin1', offset, offset + size).replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new InvalidArchiveError(`tar ${field} is not an octal number`);
  return parseInt(text, 8);
}
