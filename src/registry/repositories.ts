/**
 * Resolves repository names to ids. Names are validated here, once, for every service: a name
 * that gets past `resolve` is safe in SQL, logs and URLs.
 *
 * Ids are cached: a repository row is never renamed or re-numbered, so a cached id stays right
 * on every replica; the cache only saves a query on the hot read paths.
 */
import { isValidRepositoryName } from '../oci/name.js';
import type { Metadata } from '../metadata/stores/index.js';
import { NameInvalidError, NameNotFoundError } from './errors.js';

const CACHE_LIMIT = 10_000;

export class Repositories {
  private readonly ids = new Map<string, number>();

  constructor(private readonly metadata: Metadata) {}

  /** The id of an existing repository, or undefined. Throws NameInvalidError for a bad name. */
  async find(name: string): Promise<number | undefined> {
    assertValidName(name);
    const cached = this.ids.get(name);
    if (cached !== undefined) return cached;
    const row = await this.metadata.stores.repositories.findByName(name);
    if (row) this.remember(name, row.id);
    return row?.id;
  }

  /** Like `find`, but a missing repository is NAME_UNKNOWN. */
  async require(name: string): Promise<number> {
    const id = await this.find(name);
    if (id === undefined) throw new NameNotFoundError(name);
    return id;
  }

  /**
   * The repository's id, creating it on first push. Runs outside any transaction on purpose:
   * the id is cached, so it must never come from a transaction that could roll back.
   */
  async findOrCreate(name: string): Promise<number> {
    const known = await this.find(name);
    if (known !== undefined) return known;
    const row = await this.metadata.stores.repositories.findOrCreate(name);
    this.remember(name, row.id);
    return row.id;
  }

  private remember(name: string, id: number): void {
    if (this.ids.size >= CACHE_LIMIT) this.ids.clear();
    this.ids.set(name, id);
  }
}

export function assertValidName(name: string): void {
  if (!isValidRepositoryName(name)) throw new NameInvalidError(name);
}
