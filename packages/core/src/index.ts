/** The public surface of @wal2nats/core: pure logic, no I/O clients. */
export { parseLsn, formatLsn, readLsn, writeLsn, type Lsn } from './lsn.js';
export * from './pgoutput/pgoutput.types.js';
export { decodePgoutput, peekRelationId, PgoutputDecodeError } from './pgoutput/pgoutput-decoder.js';
export { valueToJson } from './values/value-to-json.js';
export { PgTypeOid } from './values/type-oids.js';
export {
  escapeSubjectToken,
  changeSubject,
  rowsSubject,
  subjectPrefixProblem,
  type ChangeAction,
} from './envelope/subjects.js';
export { idempotencyKey, idempotencyKeyPrefix } from './envelope/idempotency-key.js';
export { pgMicrosToIso, pgMicrosToUnixMs, unixMsToPgMicros } from './envelope/pg-time.js';
export {
  ChangeEncoder,
  type EncoderContext,
  type ChangePosition,
  type RelationCatalogInfo,
  type RowBytesResult,
} from './envelope/change-encoder.js';
export { JsonBytes } from './values/json-bytes.js';
export {
  FIRST_CATALOG_TYPE_OID,
  needsTypeLookup,
  resolveColumnType,
  typesToLookUp,
  unknownTypeIn,
  type PgTypeInfo,
  type ColumnType,
} from './values/column-types.js';
export { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './delivery/backoff.js';
export { DeliveryWatermark } from './delivery/watermark.js';
export {
  fnv1aHex,
  holderFingerprint,
  holderMismatch,
  holderName,
  parseHolderName,
  type PublishingOptions,
  type SlotHolder,
} from './ha/holder-name.js';
export { shardForTable } from './pipeline/shard.js';
export { streamCapturing, subjectMatches, type StreamSubjects } from './pipeline/stream-routing.js';
export {
  ChangeBatchWriter,
  forEachFrame,
  FrameKind,
  type ChangeBatch,
  type FrameMeta,
} from './pipeline/change-batch.js';
export { WindowedRate } from './pipeline/windowed-rate.js';
export {
  WalRouter,
  WalRouterError,
  HEARTBEAT_PREFIX,
  ANNOTATIONS_SET_PREFIX,
  ANNOTATIONS_CLEAR_PREFIX,
  type WalRouterOptions,
} from './pipeline/wal-router.js';
export {
  ChangeFilter,
  FILTER_ACTIONS,
  literalTables,
  parseTablePattern,
  type ChangeFilterOptions,
  type TablePattern,
} from './pipeline/change-filter.js';
export {
  CONFIG_SCHEMA,
  STATUS_SCHEMA,
  envNameOf,
  type Config,
  type StatusOptions,
  type OptionsOf,
  type OptionSpec,
  type OptionName,
  type OptionKind,
} from './config/config-schema.js';
export {
  resolveConfig,
  resolveOptions,
  natsServers,
  parseDurationMs,
  MIN_HTTP_TOKEN_LENGTH,
  type ConfigSources,
} from './config/resolve-config.js';
export { isLoopbackHost } from './config/loopback.js';
export { errorMessage } from './error-message.js';
export {
  ErrorCode,
  ExitCode,
  Wal2NatsError,
  configError,
  noReplicaIdentityError,
  replicaIdentityFixes,
  serializeError,
  deserializeError,
  redactUrl,
  type SerializedError,
} from './errors.js';
export {
  BACKFILL_HIGH_PREFIX,
  BACKFILL_LOW_PREFIX,
  BACKFILL_STATE_SCHEMA,
  BACKFILL_STATE_TABLE,
  isBackfillStateTable,
  parseWatermarkContent,
  watermarkContent,
  watermarkKindOf,
  type WatermarkKind,
} from './backfill/watermark-messages.js';
export {
  BackfillWindow,
  keyOf,
  sameRelation,
  type BackfillChunkRequest,
  type ChunkOutcome,
  type ChunkReads,
} from './backfill/backfill-window.js';
export { encodeRelationMessage, encodeRowMessage, writeRowMessage } from './backfill/pgoutput-encoder.js';
export { chunkQuery, type ChunkTable } from './backfill/keyset-query.js';
export { quoteIdent, quoteLiteral } from './sql-quote.js';
