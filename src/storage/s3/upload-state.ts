/**
 * The state of one upload in progress, kept in S3 itself (`uploads/<id>/state.json`) so that
 * any replica can continue it, and rewritten with compare-and-swap (If-Match on the ETag read)
 * so that two replicas cannot both move it from the same offset.
 *
 * The upload's bytes [0, size) live in three places, in order:
 *
 *   [0, prefixEnd)      whole parts: in the open multipart upload (`multipart`), or — after a
 *                       read-back sealed them — in the `data` object (`sealed` bytes)
 *   [prefixEnd, size)   the tail, shorter than one part: small objects, one per chunk that
 *                       ended mid-part (`tail`), because S3 parts must be ≥ 5 MiB
 *
 * Part n (1-based) always holds bytes [(n-1)·partSize, n·partSize): boundaries depend only on
 * offsets, so a retried chunk rewrites the same parts with the same bytes.
 */
import { randomBytes } from 'node:crypto';
import { isStatus } from './errors.js';
import type { S3Operations } from './operations.js';

export interface TailSegment {
  readonly key: string;
  readonly size: number;
}

export interface UploadState {
  readonly v: 1;
  readonly size: number;
  /** Fixed when the upload starts, so a configuration change does not break it. */
  readonly partSize: number;
  readonly multipart?: { readonly uploadId: string; readonly etags: readonly string[] };
  readonly sealed?: number;
  readonly tail: readonly TailSegment[];
  /** Written by whom: lets a writer recognise its own write after an ambiguous retry. */
  readonly rev: string;
}

export interface StoredState {
  readonly state: UploadState;
  readonly etag: string;
}

export function prefixEnd(state: UploadState): number {
  if (state.multipart) return state.multipart.etags.length * state.partSize;
  return state.sealed ?? 0;
}

export function newRev(): string {
  return randomBytes(8).toString('hex');
}

export class UploadStates {
  constructor(private readonly ops: S3Operations) {}

  async read(key: string): Promise<StoredState | undefined> {
    const found = await this.ops.getText(key);
    if (!found) return undefined;
    return { state: JSON.parse(found.text) as UploadState, etag: found.etag };
  }

  async create(key: string, partSize: number): Promise<void> {
    const state: UploadState = { v: 1, size: 0, partSize, tail: [], rev: newRev() };
    await this.ops.put(key, JSON.stringify(state), { ifNoneMatch: '*' });
  }

  /**
   * Replaces `previous` with `next`. Returns false when someone else changed the state first.
   * A 412 after a retried PUT may mean our own first attempt landed: the rev tells.
   */
  async swap(key: string, previous: StoredState, next: UploadState): Promise<boolean> {
    try {
      await this.ops.put(key, JSON.stringify(next), { ifMatch: previous.etag });
      return true;
    } catch (error) {
      if (!isStatus(error, 412, 404)) throw error;
      const now = await this.read(key);
      return now?.state.rev === next.rev;
    }
  }
}
