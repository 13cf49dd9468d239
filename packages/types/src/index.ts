/** The public surface of @wal2nats/types: the message body's types and the subject naming. No runtime dependencies. */
export {
  CHANGE_ACTIONS,
  DEFAULT_SUBJECT_PREFIX,
  changeSubject,
  escapeSubjectToken,
  parseSubject,
  rowsSubject,
  unescapeSubjectToken,
  type ChangeAction,
  type ParsedSubject,
} from './subjects.js';
export type {
  ChangeEvent,
  DeleteEvent,
  InsertEvent,
  JsonValue,
  Metadata,
  ReadEvent,
  RecordEvent,
  Row,
  TruncateEvent,
  UpdateEvent,
  Wal2NatsMessage,
} from './message.js';
