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
// Records are visited by level (inputs first) so one pass settles whole chains; a pass that merged
// anything is followed by another, because a merge can make keys computed earlier in it stale.

import type { PoolRecord } from './pool.js';

const MAX_PASSES = 64;
const MAX_WORK = 50_000_000;

/** Class representative (lowest member index) for every record, or why coalescing gave up. */
export function coalesce(records: readonly PoolRecord[], levels: readonly number[]): Int32Array | string {
  const uf = new UnionFind(records.length);
  const byLevel = groupByLevel(levels);
  const work = { done: 0 };
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const merged = coalescePass(records, byLevel, uf, work);
    if (work.done > MAX_WORK) return 'too many records share cache keys to merge within the work limit';
    if (!merged) return uf.roots();
  }
  return `records did not settle after ${MAX_PASSES} merge passes`;
}

type SlotSets = Array<Set<string>>;

interface PassState {
  records: readonly PoolRecord[];
  uf: UnionFind;
  work: { done: number };
  slots: Map<number, SlotSets>;
  /** Signature (digest, input count, one source of input 0) → classes having it. */
  index: Map<string, Set<number>>;
  merged: boolean;
}

function coalescePass(records: readonly PoolRecord[], byLevel: number[][], uf: UnionFind, work: { done: number }): boolean {
  const st: PassState = { records, uf, work, slots: new Map(), index: new Map(), merged: false };
  for (const level of byLevel) {
    const touched = new Set<number>();
    for (const r of level) touched.add(register(st, r));
    for (const c of touched) joinCandidates(st, c);
  }
  return st.merged;
}

/** Add record r's sources (as classes) to its class's per-input source sets. */
function register(st: PassState, r: number): number {
  const c = st.uf.find(r);
  const rec = st.records[r]!;
  let sets = st.slots.get(c);
  if (!sets) st.slots.set(c, (sets = rec.inputs.map(() => new Set<string>())));
  rec.inputs.forEach((alts, k) => {
    for (const a of alts) {
      // A source inside the record's own class is a loop BuildKit would drop (see cycles.ts);
      // it must not make this class look joinable with its own dependents.
      const source = st.uf.find(a.link);
      if (source !== c) sets[k]!.add(altKey(a.selector, source));
    }
    st.work.done += alts.length;
  });
  return c;
}

/** Join class c with every indexed class it can join, then index it under its signatures. */
function joinCandidates(st: PassState, start: number): void {
  let c = st.uf.find(start);
  for (const sig of signatures(st, c)) {
    const list = st.index.get(sig);
    if (!list) continue;
    for (const other of [...list]) {
      const j = st.uf.find(other);
      c = st.uf.find(c);
      if (j !== c && allIntersect(st, c, j)) {
        c = unite(st, c, j);
        st.merged = true;
      }
    }
  }
  c = st.uf.find(c);
  for (const sig of signatures(st, c)) {
    let list = st.index.get(sig);
    if (!list) st.index.set(sig, (list = new Set()));
    list.add(c);
  }
}

function signatures(st: PassState, c: number): string[] {
  const rec = st.records[c]!; // the class root is one of its members
  const head = `${rec.digest}\u0000${rec.inputs.length}`;
  if (rec.inputs.length === 0) return [head];
  const first = st.slots.get(c)![0]!;
  st.work.done += first.size;
  return [...first].map((alt) => `${head}\u0000${alt}`);
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
  const kept = st.slots.get(root)!;
  st.slots.get(gone)!.forEach((set, k) => {
    for (const alt of set) kept[k]!.add(alt);
    st.work.done += set.size;
  });
  st.slots.delete(gone);
  return root;
}

function altKey(selector: string, cls: number): string {
  // The class number is last and has no NUL, so the key splits unambiguously at the last NUL.
  return `${selector}\u0000${cls}`;
}

function groupByLevel(levels: readonly number[]): number[][] {
  const groups: number[][] = [];
  levels.forEach((level, r) => (groups[level] ??= []).push(r));
  return groups.filter((g) => g !== undefined);
}

/** Union-find whose root is always the lowest index, so results do not depend on merge order. */
class UnionFind {
  private readonly parent: Int32Array;

  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }

  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root]!;
    while (this.parent[x] !== root) {
      const next = this.parent[x]!;
      this.parent[x] = root;
      x = next;
    }
    return root;
  }

  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent[child] = root;
    return root;
  }

  roots(): Int32Array {
    return this.parent.map((_, i) => this.find(i));
  }
}
