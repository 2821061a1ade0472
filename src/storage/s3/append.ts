/**
 * One chunk appended to an S3 upload, whole or not at all.
 *
 * The chunk streams into part-sized spool files. Each full part goes to S3 (UploadPart) while
 * the next one fills — at most one part in flight, so at most two part files on disk. The bytes
 * left over after the last full part are written as one small tail object. Only then is the
 * upload state swapped (compare-and-swap) to include the new parts and tail: until that swap the
 * upload is unchanged for everybody, and a failure merely leaves unreferenced parts (overwritten
 * by the next attempt, dropped at completion) and objects (deleted here, or with the upload).
 *
 * The first part of a chunk starts with the previous tail's bytes. They are read back — from
 * this process's cache when it wrote them, else from S3 — only if the chunk does fill that part.
 */
import { Readable } from 'node:stream';
import { UploadRangeError } from '../errors.js';
import type { Layout } from './layout.js';
import type { S3Operations } from './operations.js';
import type { OpenMultipart, Parts } from './parts.js';
import type { Spool, SpoolFile } from './spool.js';
import { newRev, prefixEnd, type StoredState, type TailSegment, type UploadState, type UploadStates } from './upload-state.js';

export interface S3Context {
  readonly ops: S3Operations;
  readonly layout: Layout;
  readonly states: UploadStates;
  readonly parts: Parts;
  readonly spool: Spool;
}

export async function appendChunk(ctx: S3Context, id: string, stored: StoredState, body: Readable): Promise<number> {
  const run = new AppendRun(ctx, id, stored);
  try {
    return await run.execute(body);
  } catch (error) {
    await run.rollback();
    throw error;
  }
}

class AppendRun {
  private readonly state: UploadState;
  private readonly partSize: number;
  private readonly offset: number;
  private readonly tailLength: number;
  private readonly files: SpoolFile[] = [];
  private file!: SpoolFile;
  /** Upload offset of the current file's first byte. */
  private fileStart: number;
  /** Next write position in the current file. */
  private position: number;
  /** False while the first file still lacks the old tail's bytes at [0, tailLength). */
  private filled = false;
  private multipart: OpenMultipart | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private failure: unknown;
  private partsCut = 0;
  private newSegment: string | undefined;

  constructor(
    private readonly ctx: S3Context,
    private readonly id: string,
    private readonly stored: StoredState,
  ) {
    this.state = stored.state;
    this.partSize = this.state.partSize;
    this.offset = this.state.size;
    this.fileStart = prefixEnd(this.state);
    this.tailLength = this.offset - this.fileStart;
    this.position = this.tailLength;
  }

  async execute(body: Readable): Promise<number> {
    await this.openFirstFile();
    for await (const chunk of body) await this.write(chunk as Buffer);
    await this.settle();
    const written = this.fileStart + this.position - this.offset;
    if (written === 0) {
      this.keepOrDiscard();
      return 0;
    }
    const next = await this.nextState();
    if (!(await this.ctx.states.swap(this.ctx.layout.state(this.id), this.stored, next))) {
      const now = await this.ctx.states.read(this.ctx.layout.state(this.id));
      throw new UploadRangeError(now?.state.size ?? this.offset, this.offset);
    }
    this.keepOrDiscard();
    if (this.partsCut > 0) await this.deleteKeys(this.state.tail.map((s) => s.key));
    return written;
  }

  async rollback(): Promise<void> {
    await this.inflight;
    for (const file of this.files) await file.discard();
    if (this.multipart?.created) await this.ctx.parts.abort(this.id, this.multipart.uploadId).catch(() => undefined);
    if (this.newSegment) await this.deleteKeys([this.newSegment]);
  }

  private async openFirstFile(): Promise<void> {
    const cached = this.ctx.spool.takeTail(this.id, this.fileStart, this.offset);
    this.file = cached ?? (await this.ctx.spool.file());
    this.files.push(this.file);
    this.filled = cached !== undefined || this.tailLength === 0;
  }

  private async write(chunk: Buffer): Promise<void> {
    let data = chunk;
    while (data.length > 0) {
      const n = Math.min(data.length, this.partSize - this.position);
      await this.file.write(data.subarray(0, n), this.position);
      this.position += n;
      data = data.subarray(n);
      if (this.position === this.partSize) await this.cutPart();
    }
  }

  /** The current file is a whole part: send it, and continue into a fresh file meanwhile. */
  private async cutPart(): Promise<void> {
    if (!this.filled) await this.fillTail();
    this.multipart ??= await this.ctx.parts.open(this.id, this.state);
    await this.settle();
    const { uploadId, etags } = this.multipart;
    const file = this.file;
    const partNumber = this.fileStart / this.partSize + 1;
    const upload = this.ctx.ops.uploadPart(this.ctx.layout.data(this.id), uploadId, partNumber, file.range(0, this.partSize));
    // Never left rejected unobserved: the failure is kept and thrown by the next settle().
    this.inflight = upload.then(
      (etag) => {
        etags[partNumber - 1] = etag;
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    ).finally(() => file.discard());
    this.partsCut++;
    this.fileStart += this.partSize;
    this.position = 0;
    this.file = await this.ctx.spool.file();
    this.files.push(this.file);
    this.filled = true;
  }

  private async settle(): Promise<void> {
    await this.inflight;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Reads the old tail back from S3 into the start of the first file. */
  private async fillTail(): Promise<void> {
    await readSegments(this.ctx.ops, this.state.tail, this.file, 0);
    this.filled = true;
  }

  private async nextState(): Promise<UploadState> {
    const tail: TailSegment[] = this.partsCut > 0 ? [] : [...this.state.tail];
    const from = this.partsCut > 0 ? 0 : this.tailLength;
    if (this.position > from) {
      const key = this.ctx.layout.tail(this.id, this.fileStart + from, newRev());
      this.newSegment = key;
      await this.ctx.ops.put(key, this.file.range(from, this.position));
      tail.push({ key, size: this.position - from });
    }
    const head = this.multipart
      ? { multipart: { uploadId: this.multipart.uploadId, etags: this.multipart.etags } }
      : { ...(this.state.multipart ? { multipart: this.state.multipart } : {}), ...(this.state.sealed ? { sealed: this.state.sealed } : {}) };
    return { v: 1, size: this.fileStart + this.position, partSize: this.partSize, ...head, tail, rev: newRev() };
  }

  /** The last file is the new tail: cache it when it holds all of the tail's bytes. */
  private keepOrDiscard(): void {
    const last = this.files.pop();
    if (!last) return;
    if (this.filled) this.ctx.spool.keepTail(this.id, last, this.fileStart);
    else void last.discard();
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    // Best effort: whatever stays is under uploads/<id>/ and goes with the upload.
    await Promise.all(keys.map((key) => this.ctx.ops.delete(key).catch(() => undefined)));
  }
}

/** Writes the tail segments, in order, into `file` from `position`. */
export async function readSegments(ops: S3Operations, segments: readonly TailSegment[], file: SpoolFile, position: number): Promise<number> {
  let at = position;
  for (const segment of segments) {
    const stream = await ops.get(segment.key);
    if (!stream) throw new Error(`upload tail object ${segment.key} is missing`);
    for await (const chunk of stream) {
      await file.write(chunk as Buffer, at);
      at += (chunk as Buffer).length;
    }
  }
  return at;
}
