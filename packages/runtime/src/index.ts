/** The public surface of @wal2nats/runtime. */
export { Pipeline, type PipelineOptions } from './pipeline.js';
export { createLogger, type Logger, type LogLevel, type LogFields } from './log/logger.js';
export type { RunOutcome } from './threads/thread-messages.js';
export type {
  Overview,
  OverviewPoint,
  TableOverview,
  ShardOverview,
  ThreadOverview,
} from './http/overview.js';
export type { BackfillOverview } from './http/backfill-overview.js';
export type { MessageView, MessageDetail, MessageState } from './messages/message-view.js';
export { requestBackfills } from './backfill/request-backfills.js';
export { quantileBetween } from './metrics/metrics-json.js';
export { readHttpTokenFile } from './http/http-access.js';
