// Joining records can close a loop: in one export, R2 = (d, [[A]]) and R3 = (d, [[A, R2]]) join
// (they share A), and the joined record then lists itself as a source. BuildKit avoids this when
// it joins: sources that are the joined record or its descendants are dropped ("make sure that
// none of the deps are children of r" in CacheChains.Add). We do the order-free equivalent: drop
// every source edge inside a strongly connected component (exactly the edges that lie on a loop),
// then drop records left with an input that has no source, and so on downstream. Dropping a
// source can only cost a cache hit, never produce a wrong one.
import type { ClassRecord } from './emit.js';

/** What breaking loops cost: sources removed, then records left with an input without sources. */
export interface LoopRepairs { sources: number; records: number }

export function breakCycles(classes: Map<number, ClassRecord>): LoopRepairs {
  const component = stronglyConnected(classes);
  let sources = 0;
  for (const c of classes.values()) {
    for (const slot of c.inputs) {
      for (const [key, alt] of slot) {
        if (component.get(alt.link) !== component.get(c.id)) continue;
        slot.delete(key);
        sources++;
      }
    }
  }
  const before = classes.size;
  dropUnsatisfiable(classes);
  return { sources, records: before - classes.size };
}

/** Remove records with an input that has no source left; their dependents lose that source. */
function dropUnsatisfiable(classes: Map<number, ClassRecord>): void {
  const dependents = new Map<number, number[]>();
  for (const c of classes.values()) {
    for (const slot of c.inputs) for (const alt of slot.values()) pushTo(dependents, alt.link, c.id);
  }
  const queue = [...classes.values()].filter((c) => c.inputs.some((s) => s.size === 0)).map((c) => c.id);
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (!classes.delete(id)) continue;
    for (const d of dependents.get(id) ?? []) {
      const dep = classes.get(d);
      if (!dep) continue;
      for (const slot of dep.inputs) for (const [key, alt] of slot) if (alt.link === id) slot.delete(key);
      if (dep.inputs.some((s) => s.size === 0)) queue.push(d);
    }
  }
}

/** Component id per class (iterative Tarjan over source → dependent edges). */
function stronglyConnected(classes: Map<number, ClassRecord>): Map<number, number> {
  const sources = (c: ClassRecord): number[] => c.inputs.flatMap((slot) => [...slot.values()].map((a) => a.link));
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const component = new Map<number, number>();
  let counter = 0;
  for (const start of classes.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ id: number; next: number[]; i: number }> = [];
    const open = (id: number): void => {
      index.set(id, counter);
      low.set(id, counter++);
      stack.push(id);
      onStack.add(id);
      work.push({ id, next: sources(classes.get(id)!).filter((s) => classes.has(s)), i: 0 });
    };
    open(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      if (frame.i < frame.next.length) {
        const w = frame.next[frame.i++]!;
        if (!index.has(w)) open(w);
        else if (onStack.has(w)) low.set(frame.id, Math.min(low.get(frame.id)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
      if (low.get(frame.id) === index.get(frame.id)) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.set(w, frame.id);
        } while (w !== frame.id);
      }
    }
  }
  return component;
}

function pushTo(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
