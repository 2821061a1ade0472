// Union-find whose representative is always the lowest index, so results never depend on the
// order in which unions happen.

export class UnionFind {
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

  /** Join the sets of a and b; returns the new representative. */
  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent[child] = root;
    return root;
  }

  /** Representative of every element. */
  roots(): Int32Array {
    return this.parent.map((_, i) => this.find(i));
  }
}
