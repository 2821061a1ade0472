// A content hash of each coalesced record and everything upstream of it (digest + for each input
// the set of (selector, source identity)). It breaks sort ties between records that share a digest
// without depending on where records sat in the input. Computed inputs-first (Kahn's algorithm),
// which also proves the coalesced graph has no loop.
import { createHash } from 'node:crypto';
import type { ClassRecord } from './emit.js';

export function recordIdentities(classes: Map<number, ClassRecord>): Map<number, string> | string {
  const pending = new Map<number, number>();
  const dependents = new Map<number, number[]>();
  for (const c of classes.values()) {
    let n = 0;
    for (const slot of c.inputs) {
      for (const a of slot.values()) {
        n++;
        const list = dependents.get(a.link);
        if (list) list.push(c.id);
        else dependents.set(a.link, [c.id]);
      }
    }
    pending.set(c.id, n);
  }
  const queue = [...classes.keys()].filter((id) => pending.get(id) === 0);
  const identity = new Map<number, string>();
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    identity.set(id, hashRecord(classes.get(id)!, identity));
    for (const d of dependents.get(id) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) queue.push(d);
    }
  }
  return queue.length === classes.size ? identity : 'merged records form a loop';
}

function hashRecord(c: ClassRecord, identity: Map<number, string>): string {
  const inputs = c.inputs.map((slot) =>
    [...slot.values()].map((a) => `${a.selector}\u0000${identity.get(a.link)!}`).sort());
  return createHash('sha256').update(JSON.stringify([c.digest, inputs])).digest('hex');
}
