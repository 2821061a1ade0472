/**
 * Branch lifecycle metadata: branch states per repository, Git repository → Cairn repositories
 * mappings, and the webhook deliveries already seen.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface BranchRow {
  repository: string;
  repository_id: number;
  branch: string;
  state: 'live' | 'gone';
  changed_at: Date;
  source: string;
}

export interface GitMappingRow {
  git_repository: string;
  repositories: string[];
  lowercase: boolean;
  updated_at: Date;
}

/** Deliveries are remembered this long; forges retry for hours, not weeks. */
const DELIVERY_MEMORY_DAYS = 30;

export class BranchStore {
  constructor(private readonly db: Kysely<Database>) {}

  async list(repositoryIds: readonly number[]): Promise<BranchRow[]> {
    if (repositoryIds.length === 0) return [];
    return this.db
      .selectFrom('retention_branches as b')
      .innerJoin('repositories as r', 'r.id', 'b.repository_id')
      .select(['r.name as repository', 'b.repository_id', 'b.branch', 'b.state', 'b.changed_at', 'b.source'])
      .where('b.repository_id', 'in', [...repositoryIds])
      .orderBy(sql`b.branch COLLATE "C"`)
      .execute();
  }

  /**
   * Sets branch states. `changed_at` moves only when the state changes: marking a gone branch gone
   * again does not restart its grace period.
   */
  async set(repositoryId: number, branches: readonly string[], state: 'live' | 'gone', source: string): Promise<void> {
    if (branches.length === 0) return;
    await sql`
      INSERT INTO retention_branches (repository_id, branch, state, source)
      SELECT ${repositoryId}, b, ${state}, ${source} FROM unnest(${[...branches]}::text[]) AS b
      ON CONFLICT (repository_id, branch) DO UPDATE
        SET changed_at = CASE WHEN retention_branches.state = EXCLUDED.state THEN retention_branches.changed_at ELSE now() END,
            source = CASE WHEN retention_branches.state = EXCLUDED.state THEN retention_branches.source ELSE EXCLUDED.source END,
            state = EXCLUDED.state`.execute(this.db);
  }

  async listMappings(): Promise<GitMappingRow[]> {
    return this.db.selectFrom('retention_git_mappings').selectAll().orderBy(sql`git_repository COLLATE "C"`).execute();
  }

  async findMapping(gitRepository: string): Promise<GitMappingRow | undefined> {
    return this.db.selectFrom('retention_git_mappings').selectAll().where('git_repository', '=', gitRepository).executeTakeFirst();
  }

  async saveMapping(gitRepository: string, repositories: readonly string[], lowercase: boolean): Promise<GitMappingRow> {
    return this.db
      .insertInto('retention_git_mappings')
      .values({ git_repository: gitRepository, repositories: [...repositories], lowercase })
      .onConflict((oc) => oc.column('git_repository').doUpdateSet({ repositories: [...repositories], lowercase, updated_at: new Date() }))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteMapping(gitRepository: string): Promise<boolean> {
    const result = await this.db.deleteFrom('retention_git_mappings').where('git_repository', '=', gitRepository).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Records a delivery id; false when it was seen before (a replay). Forgets old ones on the way. */
  async firstDelivery(provider: string, deliveryId: string): Promise<boolean> {
    await sql`DELETE FROM webhook_deliveries WHERE received_at < now() - make_interval(days => ${DELIVERY_MEMORY_DAYS})`.execute(this.db);
    const inserted = await this.db
      .insertInto('webhook_deliveries')
      .values({ provider, delivery_id: deliveryId })
      .onConflict((oc) => oc.columns(['provider', 'delivery_id']).doNothing())
      .returning('delivery_id')
      .executeTakeFirst();
    return inserted !== undefined;
  }
}
