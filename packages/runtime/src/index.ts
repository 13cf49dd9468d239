/** The public surface of @wal2nats/runtime. */
export { Pipeline, type PipelineOptions } from './pipeline.js';
export { createLogger, type Logger, type LogLevel, type LogFields } from './log/logger.js';
export type { RunOutcome } from './threads/thread-messages.js';
