// Which pool records are the same cache record. BuildKit's rule (CacheChains.Add in
// cache/remotecache/v1/chains.go): a new record joins an existing one when the digest is the same
// and, for EVERY input k, one of its sources for k is also a source for k of the existing record;
// the joined record then accepts the union of sources. Roots (no inputs) join by digest alone.
//
// Merging by digest alone would be wrong: "WORKDIR /app" has one digest on every base image, and
// joining those records would serve layers built on one base to builds on another.
//
// We compute the closure of that rule (the smallest partition in which no two classes could still
// join). The closure matters: BuildKit's importer fails with "multiple matching dependencies" when
// a record could join two existing ones, so an output where two records could still join is unsafe.
// The rule only ever adds joins, so the closure is unique: the result does not depend on input
// order. Records are visited by level (inputs first) so one pass settles whole chains; a pass that
// joined anything is followed by another, because a join can make keys computed earlier stale.
import type { PoolRecord } from './pool.js';
import { UnionFind } from './union-find.js';

const MAX_PASSES = 64;
const MAX_WORK = 50_000_000;

/** Class representative (lowest member index) for every record, or why coalescing gave up. */
export function coalesce(records: readonly PoolRecord[], levels: readonly number[]): Int32Array | string {
  const uf = new UnionFind(records.length);
  const byLevel = groupByLevel(levels);
  const work = { done: 0 };
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const joined = coalescePass(records, byLevel, uf, work);
    if (work.done > MAX_WORK) return 'too many records share cache keys to merge within the work limit';
    if (!joined) return uf.roots();
  }
  return `records did not settle after ${MAX_PASSES} merge passes`;
}

interface PassState {
  records: readonly PoolRecord[];
  uf: UnionFind;
  work: { done: number };
  /** Per class, per input: its sources as "selector NUL class". */
  slots: Map<number, Array<Set<string>>>;
  /** (digest, input count, input k, source) → classes registered with it (ids may be stale). */
  index: Map<string, number[]>;
  /** Root records (no inputs) join by digest alone. */
  rootsByDigest: Map<string, number>;
  joined: boolean;
}

function coalescePass(records: readonly PoolRecord[], byLevel: number[][], uf: UnionFind, work: { done: number }): boolean {
  const st: PassState = { records, uf, work, slots: new Map(), index: new Map(), rootsByDigest: new Map(), joined: false };
  for (const level of byLevel) {
    const touched = new Set<number>();
    for (const r of level) touched.add(register(st, r));
    for (const c of touched) join(st, c);
  }
  return st.joined;
}

/** Add record r's sources to its class and to the index; returns the class. */
function register(st: PassState, r: number): number {
  const c = st.uf.find(r);
  const rec = st.records[r]!;
  let sets = st.slots.get(c);
  if (!sets) st.slots.set(c, (sets = rec.inputs.map(() => new Set<string>())));
  rec.inputs.forEach((alts, k) => {
    for (const a of alts) {
      const alt = `${a.selector}\u0000${st.uf.find(a.link)}`;
      sets[k]!.add(alt);
      const key = sig(rec, k, alt);
      const list = st.index.get(key);
      if (list) list.push(c);
      else st.index.set(key, [c]);
    }
    st.work.done += alts.length;
  });
  return c;
}

/** Join class `start` with every class it can join. */
function join(st: PassState, start: number): void {
  let c = st.uf.find(start);
  const rec = st.records[c]!; // the representative is one of the class's records
  if (rec.inputs.length === 0) {
    const previous = st.rootsByDigest.get(rec.digest);
    if (previous !== undefined && st.uf.find(previous) !== c) c = unite(st, c, st.uf.find(previous));
    st.rootsByDigest.set(rec.digest, c);
    return;
  }
  // A joinable class shares a source with c in EVERY input, so looking in one input is enough:
  // take the input whose sources are shared with the fewest classes.
  const k = cheapestInput(st, rec, st.slots.get(c)!);
  for (const candidate of candidates(st, rec, k, [...st.slots.get(c)![k]!])) {
    const j = st.uf.find(candidate);
    c = st.uf.find(c);
    if (j !== c && allIntersect(st, c, j)) c = unite(st, c, j);
  }
}

function cheapestInput(st: PassState, rec: PoolRecord, sets: Array<Set<string>>): number {
  let best = 0;
  let bestCost = Infinity;
  sets.forEach((set, k) => {
    let cost = 0;
    for (const alt of set) cost += st.index.get(sig(rec, k, alt))?.length ?? 0;
    st.work.done += set.size;
    if (cost < bestCost) [best, bestCost] = [k, cost];
  });
  return best;
}

/** Classes sharing a source with `alts` in input k; index lists are de-duplicated as they are read. */
function candidates(st: PassState, rec: PoolRecord, k: number, alts: string[]): Set<number> {
  const out = new Set<number>();
  for (const alt of alts) {
    const key = sig(rec, k, alt);
    const list = st.index.get(key) ?? [];
    const current = new Set(list.map((id) => st.uf.find(id)));
    if (current.size < list.length) st.index.set(key, [...current]);
    for (const id of current) out.add(id);
    st.work.done += list.length;
  }
  return out;
}

function allIntersect(st: PassState, a: number, b: number): boolean {
  const sa = st.slots.get(a)!;
  const sb = st.slots.get(b)!;
  return sa.every((setA, k) => {
    const setB = sb[k]!;
    const [small, large] = setA.size <= setB.size ? [setA, setB] : [setB, setA];
    st.work.done += small.size;
    for (const alt of small) if (large.has(alt)) return true;
    return false;
  });
}

function unite(st: PassState, a: number, b: number): number {
  const root = st.uf.union(a, b);
  const gone = root === a ? b : a;
  const kept = st.slots.get(root);
  const moved = st.slots.get(gone);
  if (kept && moved) {
    moved.forEach((set, k) => {
      for (const alt of set) kept[k]!.add(alt);
      st.work.done += set.size;
    });
  } else if (moved) {
    st.slots.set(root, moved);
  }
  st.slots.delete(gone);
  st.joined = true;
  return root;
}

/** Index key; digests contain no NUL, and the source key is last, so keys cannot collide. */
function sig(rec: PoolRecord, k: number, alt: string): string {
  return `${rec.digest}\u0000${rec.inputs.length}\u0000${k}\u0000${alt}`;
}

function groupByLevel(levels: readonly number[]): number[][] {
  const groups: number[][] = [];
  levels.forEach((level, r) => (groups[level] ??= []).push(r));
  return groups.filter((g) => g !== undefined);
}
