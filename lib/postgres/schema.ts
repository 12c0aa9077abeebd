// The SQL of the PostgreSQL store, for one namespace (schema + table prefix).
// Identifiers are checked to be plain SQL identifiers before they are quoted
// into the text; every value goes in as a parameter ($1, $2, …).
//
// Each hot statement is one statement, so one round trip, committed on its
// own (autocommit): PostgreSQL runs a statement atomically, and its commit
// returns only once the WAL is flushed (synchronous_commit = on).

/** The statements of one namespace. */
export interface Sql {
  /** The advisory-lock key that serialises migrations of this namespace. */
  lockKey: string
  /** Does the schema exist? `$1` the schema name. */
  schemaExists: string
  createSchema: string
  createTables: string
  /**
   * `$1` documents text[], `$2` seqs bigint[], `$3` updates bytea[], `$4` epochs bigint[] (NULL: unfenced).
   * Rows: the stale fences. Fails with SQLSTATE 23502 (not_null_violation), writing nothing, when an entry's
   * (document, seq) is stored with other bytes.
   */
  append: string
  /** `$1` documents text[], `$2` seqs bigint[], `$3` updates bytea[]. Rows: each document's lowest seq stored with other bytes. */
  conflicts: string
  /** `$1` document. Rows: the snapshot first (`is_snapshot`), then the log after it, in seq order. */
  load: string
  /** `$1` document, `$2` upToSeq, `$3` state, `$4` epoch or NULL. One row: `ok`, and the recorded `epoch`. */
  compact: string
  /** `$1` document. One row: the new `epoch`, one more than the last one issued (1 for a first claim). */
  claim: string
  /**
   * `$1` document, `$2` epoch or NULL, `$3` created_at (ms), `$4` label, `$5` authors text[], `$6` reason, `$7` state.
   * One row: `ok`, the recorded `epoch`, and the new version's `id` (NULL when fenced).
   */
  putVersion: string
  /** `$1` document, `$2` limit, `$3` before or NULL. Rows: the versions without state, highest id first. */
  listVersions: string
  /** `$1` document, `$2` id. At most one row, with `state`. */
  getVersion: string
  /** `$1` document, `$2` ids bigint[], `$3` epoch or NULL. One row: `ok`, and the recorded `epoch`. */
  deleteVersions: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** True for a name that can be a schema or a table prefix: letters, digits and `_`, not starting with a digit. */
export function isIdentifier (name: string): boolean {
  return IDENTIFIER.test(name) && name.length <= 48
}

/** Builds the statements for tables `<prefix>updates`, `<prefix>snapshots`, `<prefix>fences` and `<prefix>versions` in `schema`. */
export function sqlFor (schema: string, prefix: string): Sql {
  const name = (table: string): string => `"${schema}"."${prefix}${table}"`
  const updates = name('updates')
  const snapshots = name('snapshots')
  const fences = name('fences')
  const versions = name('versions')
  // The fence check of a version write, as compact's: the fence row locked, `ok` unless a higher epoch is recorded.
  const fenced = (document: string, epoch: string): string => `
WITH fence AS (
  SELECT epoch FROM ${fences} WHERE document = ${document} AND ${epoch}::bigint IS NOT NULL FOR UPDATE
), allowed AS (
  SELECT NOT EXISTS (SELECT 1 FROM fence WHERE epoch > ${epoch}::bigint) AS ok
)`
  return {
    lockKey: `fastify-collab:${schema}.${prefix}`,
    schemaExists: 'SELECT 1 FROM pg_namespace WHERE nspname = $1',
    createSchema: `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
    createTables: `
CREATE TABLE IF NOT EXISTS ${updates} (
  document text NOT NULL,
  seq bigint NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (document, seq)
);
CREATE TABLE IF NOT EXISTS ${snapshots} (
  document text PRIMARY KEY,
  seq bigint NOT NULL,
  state bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS ${fences} (
  document text PRIMARY KEY,
  epoch bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${versions} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  document text NOT NULL,
  created_at bigint NOT NULL,
  label text,
  authors text[] NOT NULL,
  reason text NOT NULL,
  size integer NOT NULL,
  state bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS "${prefix}versions_document" ON ${versions} (document, id);`,
    // The fence rows of the batch's fenced documents are locked (in document order, so two writers never
    // deadlock) before anything is inserted: a claim waits for this statement, or this statement sees the
    // claim's epoch (READ COMMITTED re-reads a row it had to wait for). The writer claimed first, so its
    // fence row exists to be locked. Nothing is inserted when any entry is stale.
    //
    // A (document, seq) already stored is a retry when its bytes are equal, and then the no-op update
    // keeps it. With other bytes, two writers share the log: the update sets seq to NULL, which the NOT
    // NULL constraint refuses (23502), and the whole statement, so the whole batch, is rolled back. DO
    // UPDATE (not DO NOTHING) also locks and re-reads a row another transaction inserted meanwhile, so a
    // race between two writers is caught as well.
    append: `
WITH batch AS (
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bigint[]) AS b (document, seq, data, epoch)
), fence AS (
  SELECT f.document, f.epoch FROM ${fences} f
  WHERE f.document IN (SELECT document FROM batch WHERE epoch IS NOT NULL)
  ORDER BY f.document
  FOR UPDATE OF f
), stale AS (
  SELECT f.document, f.epoch FROM fence f
  WHERE EXISTS (SELECT 1 FROM batch b WHERE b.document = f.document AND b.epoch < f.epoch)
), inserted AS (
  INSERT INTO ${updates} AS u (document, seq, data)
  SELECT document, seq, data FROM batch
  WHERE NOT EXISTS (SELECT 1 FROM stale)
  ON CONFLICT (document, seq) DO UPDATE SET seq = CASE WHEN u.data = excluded.data THEN u.seq END
)
SELECT document, epoch FROM stale`,
    conflicts: `
SELECT b.document, min(b.seq) AS seq
FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS b (document, seq, data)
JOIN ${updates} u ON u.document = b.document AND u.seq = b.seq AND u.data <> b.data
GROUP BY b.document`,
    // One statement, so one snapshot: a compaction cannot fall between reading the snapshot and the log.
    load: `
WITH snapshot AS (
  SELECT seq, state FROM ${snapshots} WHERE document = $1
)
SELECT true AS is_snapshot, seq, state AS data FROM snapshot
UNION ALL
SELECT false, u.seq, u.data FROM ${updates} u
WHERE u.document = $1 AND u.seq > COALESCE((SELECT seq FROM snapshot), 0)
ORDER BY is_snapshot DESC, seq`,
    compact: `
WITH fence AS (
  SELECT epoch FROM ${fences} WHERE document = $1 AND $4::bigint IS NOT NULL FOR UPDATE
), allowed AS (
  SELECT NOT EXISTS (SELECT 1 FROM fence WHERE epoch > $4::bigint) AS ok
), snapshot AS (
  INSERT INTO ${snapshots} (document, seq, state)
  SELECT $1, $2, $3 WHERE (SELECT ok FROM allowed)
  ON CONFLICT (document) DO UPDATE SET seq = excluded.seq, state = excluded.state
), deleted AS (
  DELETE FROM ${updates} WHERE document = $1 AND seq <= $2 AND (SELECT ok FROM allowed)
)
SELECT (SELECT ok FROM allowed) AS ok, (SELECT epoch FROM fence) AS epoch`,
    // The upsert locks the fence row, so it waits for an append or compaction holding it, and theirs wait for it.
    claim: `
INSERT INTO ${fences} AS f (document, epoch) VALUES ($1, 1)
ON CONFLICT (document) DO UPDATE SET epoch = f.epoch + 1
RETURNING epoch`,
    // Versions: ids from an identity column (a sequence), so they grow with every insert; `created_at` is ms
    // since the Unix epoch, as the history's clock gave it. Writes are fenced as compact is.
    putVersion: `${fenced('$1', '$2')}, inserted AS (
  INSERT INTO ${versions} (document, created_at, label, authors, reason, size, state)
  SELECT $1::text, $3::bigint, $4::text, $5::text[], $6::text, length($7::bytea), $7::bytea WHERE (SELECT ok FROM allowed)
  RETURNING id
)
SELECT (SELECT ok FROM allowed) AS ok, (SELECT epoch FROM fence) AS epoch, (SELECT id FROM inserted) AS id`,
    listVersions: `
SELECT id, created_at, label, authors, reason, size FROM ${versions}
WHERE document = $1 AND ($3::bigint IS NULL OR id < $3::bigint)
ORDER BY id DESC LIMIT $2::bigint`,
    getVersion: `SELECT id, created_at, label, authors, reason, size, state FROM ${versions} WHERE document = $1 AND id = $2`,
    deleteVersions: `${fenced('$1', '$3')}, deleted AS (
  DELETE FROM ${versions} WHERE document = $1 AND id = ANY($2::bigint[]) AND (SELECT ok FROM allowed)
)
SELECT (SELECT ok FROM allowed) AS ok, (SELECT epoch FROM fence) AS epoch`
  }
}
