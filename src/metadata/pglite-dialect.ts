/**
 * A Kysely dialect for PGlite that runs each query as one batch of extended-protocol messages —
 * Parse, Bind, Describe, Execute, Sync — in a single call into the WebAssembly backend.
 *
 * Why not PGlite's own `query`: it makes six separate calls per query (one per message, plus a
 * Describe of the statement to learn the parameter types before binding), each of which copies
 * and parses the backend's answers. On a registry request doing one or two small queries that
 * overhead was most of the CPU time; one batch costs less than half as much.
 *
 * Parameters therefore go untyped, exactly as PGlite's own Parse sends them: PostgreSQL infers
 * each type from its context, so the SQL is typed the same way either way. Values are written as
 * node-postgres writes them (text; bytes in binary format), and results are read with PGlite's
 * parsers, including the ones Cairn configures.
 *
 * PGlite has one session, so queries take turns: a connection is handed to one caller at a
 * time, and a transaction keeps it until it ends.
 */
import { protocol, type PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

type Parameter = string | Uint8Array | null;
type Message = { name: string };
type Field = { name: string; dataTypeID: number };

export class PGliteBatchDialect implements Dialect {
  private driver: PGliteBatchDriver | undefined;

  /** `afterDestroy` runs once PGlite is closed (the data directory's lock is released there). */
  constructor(
    private readonly pglite: PGlite,
    private readonly afterDestroy?: () => Promise<void> | void,
  ) {}

  /** Whether the one session is free, and how many callers queue for it (metrics). */
  use(): { idle: number; waiting: number } {
    return this.driver ? this.driver.use() : { idle: 1, waiting: 0 };
  }

  createAdapter() {
    return new PostgresAdapter();
  }

  createDriver(): Driver {
    this.driver = new PGliteBatchDriver(this.pglite, this.afterDestroy);
    return this.driver;
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }

  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}

class PGliteBatchDriver implements Driver {
  private readonly connection: PGliteBatchConnection;
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly pglite: PGlite,
    private readonly afterDestroy?: () => Promise<void> | void,
  ) {
    this.connection = new PGliteBatchConnection(pglite);
  }

  async init(): Promise<void> {}

  use(): { idle: number; waiting: number } {
    return { idle: this.busy ? 0 : 1, waiting: this.waiting.length };
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy = true;
    return this.connection;
  }

  async releaseConnection(): Promise<void> {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`start transaction${isolation}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    try {
      await this.pglite.close();
    } finally {
      await this.afterDestroy?.();
    }
  }
}

class PGliteBatchConnection implements DatabaseConnection {
  private readonly statements = new PreparedStatements();

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const { serialize } = protocol;
    const { name, parse } = this.statements.lookup(query.sql);
    const batch = concat([
      ...this.statements.takeClosing().map((old) => serialize.close({ type: 'S', name: old })),
      ...(parse ? [serialize.parse({ name, text: query.sql })] : []),
      serialize.bind({ statement: name, values: query.parameters.map(toParameter) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    try {
      // Throws the backend's error, if any; Sync has already brought the session back to idle.
      const { messages } = await this.pglite.execProtocol(batch);
      return toResult<R>(messages as Message[], this.pglite.parsers);
    } catch (error) {
      if (parse) this.statements.failed(query.sql);
      throw error;
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(query);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}

/**
 * Named prepared statements, one per distinct SQL text, so that a statement is parsed and
 * planned once per session rather than on every execution (Cairn sends the same few dozen
 * statements over and over). The least recently used go when there are too many; they are
 * closed with the next batch.
 */
class PreparedStatements {
  private static readonly LIMIT = 500;
  private readonly names = new Map<string, string>();
  private closing: string[] = [];
  private counter = 0;

  /** The statement's name, and whether the batch must Parse it first. */
  lookup(sql: string): { name: string; parse: boolean } {
    const known = this.names.get(sql);
    if (known !== undefined) {
      this.names.delete(sql); // re-insert: Map order is recency
      this.names.set(sql, known);
      return { name: known, parse: false };
    }
    const name = `cairn_${++this.counter}`;
    this.names.set(sql, name);
    for (const [oldest, oldName] of this.names) {
      if (this.names.size <= PreparedStatements.LIMIT) break;
      this.names.delete(oldest);
      this.closing.push(oldName);
    }
    return { name, parse: true };
  }

  /** A batch that parsed `sql` failed: whether the statement exists is unknown, so close it. */
  failed(sql: string): void {
    const name = this.names.get(sql);
    if (name === undefined) return;
    this.names.delete(sql);
    this.closing.push(name);
  }

  takeClosing(): string[] {
    const names = this.closing;
    this.closing = [];
    return names;
  }
}

/** Rows (parsed by column type) and the affected-row count, from a query's backend messages. */
function toResult<R>(messages: readonly Message[], parsers: PGlite['parsers']): QueryResult<R> {
  let fields: Field[] = [];
  const rows: R[] = [];
  let numAffectedRows: bigint | undefined;
  for (const message of messages) {
    if (message.name === 'rowDescription') fields = (message as unknown as { fields: Field[] }).fields;
    else if (message.name === 'dataRow') rows.push(toRow<R>((message as unknown as { fields: Array<string | null> }).fields, fields, parsers));
    else if (message.name === 'commandComplete') numAffectedRows = affectedRows((message as unknown as { text: string }).text);
  }
  return numAffectedRows === undefined ? { rows } : { rows, numAffectedRows };
}

function toRow<R>(values: ReadonlyArray<string | null>, fields: readonly Field[], parsers: PGlite['parsers']): R {
  const row: Record<string, unknown> = {};
  fields.forEach((field, i) => {
    const value = values[i] ?? null;
    const parse = parsers[field.dataTypeID];
    row[field.name] = value === null || !parse ? value : parse(value, field.dataTypeID);
  });
  return row as R;
}

/** The row count of INSERT, UPDATE, DELETE and MERGE command tags ("INSERT 0 3", "UPDATE 2"). */
function affectedRows(tag: string): bigint | undefined {
  const [command, ...rest] = tag.split(' ');
  if (!['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(command!)) return undefined;
  return BigInt(rest[rest.length - 1] ?? 0);
}

/** A parameter as node-postgres would send it: bytes in binary format, anything else as text. */
function toParameter(value: unknown): Parameter {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return value;
  return toText(value);
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A PostgreSQL array literal: `{"a","b",NULL}`, nested for nested arrays. */
function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return arrayLiteral(v);
    return `"${toText(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
