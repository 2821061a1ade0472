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

type Slots = Array<Set<string>>;

interface PassState {
  records: readonly PoolRecord[];
  uf: UnionFind;
  work: { done: number };
  /** Per class, per input: its sources as "selector NUL class". */
  slots: Map<number, Slots>;
  /** Per class, sources gained since it was last compared: only they can make it joinable. */
  fresh: Map<number, Slots>;
  /** (digest, input count, input k, source) → classes registered with it (ids may be stale). */
  index: Map<string, number[]>;
  /** Root records (no inputs) join by digest alone. */
  rootsByDigest: Map<string, number>;
  joined: boolean;
}

function coalescePass(records: readonly PoolRecord[], byLevel: number[][], uf: UnionFind, work: { done: number }): boolean {
  const st: PassState = {
    records, uf, work, slots: new Map(), fresh: new Map(), index: new Map(), rootsByDigest: new Map(), joined: false,
  };
  for (const level of byLevel) {
    const touched = new Set<number>();
    for (const r of level) touched.add(register(st, r));
    for (const c of touched) join(st, c);
  }
  return st.joined;
}

/** Add record r's sources to its class (and to the index and fresh set when new); returns the class. */
function register(st: PassState, r: number): number {
  const c = st.uf.find(r);
  const rec = st.records[r]!;
  const sets = getSlots(st.slots, c, rec.inputs.length);
  const fresh = getSlots(st.fresh, c, rec.inputs.length);
  rec.inputs.forEach((alts, k) => {
    for (const a of alts) {
      const alt = `${a.selector}\u0000${st.uf.find(a.link)}`;
      if (sets[k]!.has(alt)) continue;
      sets[k]!.add(alt);
      fresh[k]!.add(alt);
      const key = sig(rec, k, alt);
      const list = st.index.get(key);
      if (list) list.push(c);
      else st.index.set(key, [c]);
    }
    st.work.done += alts.length;
  });
  return c;
}

/**
 * Join class `start` with every class it can join. Invariant: two classes that could join have
 * at least one of them "fresh" with a source the other shares, so looking candidates up from the
 * fresh sources finds every new join — and costs little when a class only grew a bit.
 */
function join(st: PassState, start: number): void {
  let c = st.uf.find(start);
  const rec = st.records[c]!; // the representative is one of the class's records
  if (rec.inputs.length === 0) {
    const previous = st.rootsByDigest.get(rec.digest);
    if (previous !== undefined && st.uf.find(previous) !== c) c = unite(st, c, st.uf.find(previous));
    st.rootsByDigest.set(rec.digest, c);
    st.fresh.delete(c);
    return;
  }
  for (;;) {
    c = st.uf.find(c);
    const fresh = st.fresh.get(c);
    st.fresh.delete(c);
    if (!fresh || fresh.every((set) => set.size === 0)) return;
    for (const candidate of candidates(st, rec, st.slots.get(c)!, fresh)) {
      const j = st.uf.find(candidate);
      c = st.uf.find(c);
      if (j !== c && allIntersect(st, c, j)) c = unite(st, c, j); // leaves new fresh sources on c
    }
  }
}

/**
 * Classes that might join: those sharing a fresh source (some shared source must be new), or —
 * when cheaper — those sharing any source of one input (a joinable class shares one in EVERY input).
 */
function candidates(st: PassState, rec: PoolRecord, slots: Slots, fresh: Slots): Set<number> {
  const cost = (k: number, alts: Set<string>, limit: number): number => {
    let total = 0;
    for (const alt of alts) {
      total += st.index.get(sig(rec, k, alt))?.length ?? 0;
      if (total >= limit) break;
    }
    st.work.done += alts.size;
    return total;
  };
  let best: Array<[number, Set<string>]> = fresh.map((set, k) => [k, set]);
  let bestCost = fresh.reduce((sum, set, k) => sum + cost(k, set, Infinity), 0);
  slots.forEach((set, k) => {
    if (set.size >= bestCost) return; // every source is listed at least once (by this class)
    const c = cost(k, set, bestCost);
    if (c < bestCost) [best, bestCost] = [[[k, set]], c];
  });
  const out = new Set<number>();
  for (const [k, alts] of best) for (const alt of alts) for (const id of liveList(st, sig(rec, k, alt))) out.add(id);
  return out;
}

/** An index list with stale ids resolved and duplicates removed (written back, so reads stay cheap). */
function liveList(st: PassState, key: string): number[] {
  const list = st.index.get(key) ?? [];
  const live = [...new Set(list.map((id) => st.uf.find(id)))];
  if (live.length < list.length) st.index.set(key, live);
  st.work.done += list.length;
  return live;
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

/**
 * Join two classes: the smaller's sources move into the larger's. The joined class stays fresh
 * with the larger side's fresh sources plus the sources only the smaller side had: a class that
 * could not join the larger side but can join the union must share one of the latter.
 */
function unite(st: PassState, a: number, b: number): number {
  const root = st.uf.union(a, b);
  const [largeId, smallId] = size(st.slots.get(a)!) >= size(st.slots.get(b)!) ? [a, b] : [b, a];
  const large = st.slots.get(largeId)!;
  const fresh = st.fresh.get(largeId) ?? large.map(() => new Set<string>());
  st.slots.get(smallId)!.forEach((set, k) => {
    for (const alt of set) {
      if (large[k]!.has(alt)) continue;
      large[k]!.add(alt);
      fresh[k]!.add(alt);
    }
    st.work.done += set.size;
  });
  for (const id of [a, b]) {
    st.slots.delete(id);
    st.fresh.delete(id);
  }
  st.slots.set(root, large);
  st.fresh.set(root, fresh);
  st.joined = true;
  return root;
}

function getSlots(map: Map<number, Slots>, c: number, n: number): Slots {
  let slots = map.get(c);
  if (!slots) map.set(c, (slots = Array.from({ length: n }, () => new Set<string>())));
  return slots;
}

function size(slots: Slots): number {
  return slots.reduce((n, set) => n + set.size, 0);
}

/** Index key; record keys contain no NUL (guards.ts `isCacheKey`), and the source key is last, so keys cannot collide. */
function sig(rec: PoolRecord, k: number, alt: string): string {
  return `${rec.digest}\u0000${rec.inputs.length}\u0000${k}\u0000${alt}`;
}

function groupByLevel(levels: readonly number[]): number[][] {
  const groups: number[][] = [];
  levels.forEach((level, r) => (groups[level] ??= []).push(r));
  return groups.filter((g) => g !== undefined);
}
