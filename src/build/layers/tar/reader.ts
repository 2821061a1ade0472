/**
 * Streaming tar reader: entries one at a time, each entry's data as an async iterable of chunks
 * read straight from the source (never the whole archive, never a whole file in memory). An
 * entry's data not consumed before asking for the next entry is skipped.
 *
 * Reads ustar, PAX (`x`, and `g` applied to what follows) and GNU long names (`L`, `K`); refuses
 * other entry types and malformed headers with InvalidArchiveError.
 */
import { InvalidArchiveError } from '../errors.js';
import { BLOCK, decodeHeader, parsePax, xattrsOf, type EntryType, type TarHeader } from './format.js';

export interface TarEntry {
  readonly header: TarHeader;
  /** The entry's data; empty for anything but regular files. */
  readonly data: AsyncIterable<Buffer>;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Records bigger than this are refused (PAX and GNU long names): a name is never megabytes. */
const MAX_META_BYTES = 1024 * 1024;

export async function* readTar(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
  const input = new ByteReader(source[Symbol.asyncIterator]());
  let globalPax = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await input.exactly(BLOCK, true);
    if (block === undefined) return; // archive ends without the zero blocks: accepted, as GNU tar does
    const raw = decodeHeader(block);
    if (raw === undefined) {
      // Read to the end of the stream: a diffID covers the zero blocks and any padding after them.
      await input.skipToEnd();
      return;
    }
    if (raw.typeflag === 'x' || raw.typeflag === 'g' || raw.typeflag === 'L' || raw.typeflag === 'K') {
      if (raw.size > MAX_META_BYTES) throw new InvalidArchiveError(`tar metadata record of ${raw.size} bytes`);
      const body = await input.exactly(raw.size);
      await input.skip(padTo(raw.size));
      if (raw.typeflag === 'x') pax = new Map([...pax, ...parsePax(body)]);
      else if (raw.typeflag === 'g') globalPax = new Map([...globalPax, ...parsePax(body)]);
      else if (raw.typeflag === 'L') longName = cString(body);
      else longLink = cString(body);
      continue;
    }
    let type = TYPES[raw.typeflag];
    if (type === undefined) throw new InvalidArchiveError(`unsupported tar entry type "${raw.typeflag}" for "${raw.name}"`);
    const records = new Map([...globalPax, ...pax]);
    const name = text(records.get('path')) ?? longName ?? raw.name;
    if (type === 'file' && name.endsWith('/')) type = 'dir';
    const size = numeric(records.get('size')) ?? raw.size;
    const header: TarHeader = {
      name,
      type,
      mode: raw.mode & 0o7777,
      uid: numeric(records.get('uid')) ?? raw.uid,
      gid: numeric(records.get('gid')) ?? raw.gid,
      size: type === 'file' ? size : 0,
      mtime: Math.floor(Number(text(records.get('mtime')) ?? raw.mtime)),
      linkname: text(records.get('linkpath')) ?? longLink ?? raw.linkname,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
      xattrs: xattrsOf(records),
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    // Hard links and others may carry a size in the header; their data is skipped all the same.
    const dataSize = raw.typeflag === '1' || raw.typeflag === '2' || raw.typeflag === '5' ? 0 : size;
    const data = input.region(dataSize);
    yield { header, data: type === 'file' ? data : emptyIterable() };
    await input.drain();
    await input.skip(padTo(dataSize));
  }
}

function padTo(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

function cString(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString('utf8', 0, end < 0 ? body.length : end);
}

function text(value: Buffer | undefined): string | undefined {
  return value === undefined ? undefined : value.toString('utf8');
}

function numeric(value: Buffer | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.toString('latin1'));
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArchiveError('malformed PAX number');
  return n;
}

async function* emptyIterable(): AsyncGenerator<Buffer> {}

/** Pulls exact byte counts out of a chunked source. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes of the current region not yet handed out. */
  private regionLeft = 0;

  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array>) {}

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
  }

  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const head = this.chunks[0]!;
      const count = Math.min(head.length, n - at);
      head.copy(out, at, 0, count);
      at += count;
      if (count === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(count);
    }
    this.buffered -= n;
    return out;
  }

  async exactly(n: number, endOk: true): Promise<Buffer | undefined>;
  async exactly(n: number): Promise<Buffer>;
  async exactly(n: number, endOk = false): Promise<Buffer | undefined> {
    await this.fill(n);
    if (this.buffered < n) {
      if (endOk && this.buffered === 0) return undefined;
      throw new InvalidArchiveError('tar archive is cut short');
    }
    return this.take(n);
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      await this.fill(1);
      if (this.buffered === 0) throw new InvalidArchiveError('tar archive is cut short');
      const count = Math.min(left, this.chunks[0]!.length);
      this.take(count);
      left -= count;
    }
  }

  async skipToEnd(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (!this.ended) if ((await this.source.next()).done) this.ended = true;
  }

  /** The next `n` bytes as chunks, for one entry's data. */
  region(n: number): AsyncIterable<Buffer> {
    this.regionLeft = n;
    return { [Symbol.asyncIterator]: () => this.regionChunks() };
  }

  private async *regionChunks(): AsyncGenerator<Buffer> {
    while (this.regionLeft > 0) {
      await this.fill(1);
      if (this.buffered === 0) throw new InvalidArchiveError('tar archive is cut short');
      const count = Math.min(this.regionLeft, this.chunks[0]!.length);
      this.regionLeft -= count;
      yield this.take(count);
    }
  }

  /** Skips what the consumer left of the current region. */
  async drain(): Promise<void> {
    const left = this.regionLeft;
    this.regionLeft = 0;
    await this.skip(left);
  }
}
