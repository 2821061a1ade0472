import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** What a step was made of, kept so that a later miss at the same position can say what changed. */
export interface BuildStepRow {
  chainKey: string;
  position: string;
  inputs: Record<string, unknown>;
}

/** Inputs of the steps the build engine ran (migration 0014). */
export class BuildStepStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records steps by chain key; a key already recorded keeps its first row (same key, same inputs). */
  async save(repositoryId: number, steps: readonly BuildStepRow[]): Promise<void> {
    if (steps.length === 0) return;
    await this.db
      .insertInto('build_steps')
      .values(steps.map((s) => ({ repository_id: repositoryId, chain_key: s.chainKey, position: s.position, inputs: JSON.stringify(s.inputs) })))
      .onConflict((oc) => oc.columns(['repository_id', 'chain_key']).doNothing())
      .execute();
  }

  /**
   * The newest recorded step at each position among `positions`, excluding the keys in `except`
   * (the ones this build is looking for). One statement (build_steps_position_idx).
   */
  async latest(repositoryId: number, positions: readonly string[]): Promise<BuildStepRow[]> {
    if (positions.length === 0) return [];
    const { rows } = await sql<{ chain_key: string; position: string; inputs: Record<string, unknown> | string }>`
      SELECT DISTINCT ON (position) chain_key, position, inputs
      FROM build_steps
      WHERE repository_id = ${repositoryId} AND position = ANY(${[...positions]}::text[])
      ORDER BY position, created_at DESC`.execute(this.db);
    return rows.map((r) => ({ chainKey: r.chain_key, position: r.position, inputs: typeof r.inputs === 'string' ? JSON.parse(r.inputs) : r.inputs }));
  }
}
