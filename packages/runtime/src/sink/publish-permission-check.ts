/**
 * The start-up check of the sink, like Sequin's connection test: before anything streams, make
 * sure NATS lets our user publish to every subject we are about to publish to (each published
 * table that the filters keep, with each action that --actions keeps). A refusal is an exit-3
 * error that names the subject and the user, instead of a table that backs off forever later.
 *
 * How a subject is tested without publishing to it: an empty probe is published to it with the
 * reply subject `_R_.wal2nats.probe`. nats-server checks the subject against the user's publish
 * permissions first ("Permissions Violation for Publish to <subject>"); a subject that passes is
 * then refused because `_R_.` is reserved for the replies of service imports ("Permissions
 * Violation for Publish with Reply of …"). Either way the probe is dropped before it is routed:
 * no subscriber and no stream ever sees it. So every probe earns exactly one error, and the
 * flush that follows the probes returns after all of them. (nats-server logs each probe as a
 * "Publish Violation" line; docs/operations.md says so.)
 */
import { Empty, type PermissionViolationError } from '@nats-io/transport-node';
import {
  ChangeFilter,
  changeSubject,
  ErrorCode,
  escapeSubjectToken,
  rowsSubject,
  Wal2NatsError,
  type ChangeAction,
  type Config,
} from '@wal2nats/core';
import type { Logger } from '../log/logger.js';
import { natsIdentity } from './nats-identity.js';
import { NatsConnectAborted, NatsLink, type NatsLinkOptions } from './nats-link.js';
import type { PublishedTable } from '../postgres/published-table.js';

const PROBE_REPLY = '_R_.wal2nats.probe';
/** Probes per start at most (5 per table): bounds the check and the server's log lines. */
const MAX_PROBES = 2000;
/** After the flush, how long the status events of the last answers may take to arrive. */
const ANSWER_WAIT_MS = 2000;
/**
 * `read` is probed whatever the options: `wal2nats backfill` can ask a running pipeline for reads
 * at any time, and a refused read would hold up its table's changes behind it (retried with
 * backoff). Who wants no reads says so with --actions, and then a backfill request fails instead.
 */
const PUBLISHED_ACTIONS: readonly ChangeAction[] = ['insert', 'update', 'delete', 'truncate', 'read'];

/** The published tables that --tables and --exclude-tables keep. */
export function includedTables(config: Config, tables: readonly PublishedTable[]): PublishedTable[] {
  const filter = new ChangeFilter(config);
  return tables.filter(({ schema, table }) => filter.includesTable(schema, table));
}

/**
 * Every subject we may publish to for these tables: a change subject per action that --actions
 * keeps, or the one `rows` subject with --message-kind records.
 */
export function publishSubjects(
  config: Config,
  databaseName: string,
  tables: readonly PublishedTable[],
): string[] {
  const filter = new ChangeFilter(config);
  const actions = PUBLISHED_ACTIONS.filter((action) => filter.includesAction(action));
  const subjects: string[] = [];
  for (const { schema, table } of includedTables(config, tables)) {
    if (config.messageKind === 'records') {
      if (actions.length > 0) subjects.push(rowsSubject(config.subjectPrefix, databaseName, schema, table));
      continue;
    }
    for (const action of actions)
      subjects.push(changeSubject(config.subjectPrefix, databaseName, schema, table, action));
  }
  return subjects;
}

/**
 * Probes the subjects of `tables`. Resolves true when NATS lets us publish
 * to all of them, false when `options.signal` aborted the wait for NATS; throws a
 * NatsPermission error (exit 3) naming the refused subjects and the user. It waits for NATS as
 * long as NATS is unreachable (`options.onWaiting` says when it starts to).
 */
export async function checkPublishPermissions(
  config: Config,
  databaseName: string,
  tables: readonly PublishedTable[],
  log: Logger,
  options: NatsLinkOptions = {},
): Promise<boolean> {
  const all = publishSubjects(config, databaseName, tables);
  if (all.length === 0) {
    log.info(
      'no table to publish yet (none in the publication, or none the filters keep): no publish permission to check',
      { publication: config.publication },
    );
    return true;
  }
  const subjects = all.slice(0, MAX_PROBES);
  let link: NatsLink;
  try {
    link = await NatsLink.connect(config, 'wal2nats start-up check', log, options);
  } catch (error) {
    if (error instanceof NatsConnectAborted) return false;
    throw error;
  }
  const identity = natsIdentity(config);
  try {
    const denied: string[] = [];
    let answered = 0;
    let allAnswered: (() => void) | null = null;
    link.onPermissionError((error: PermissionViolationError) => {
      answered++;
      // The reply violation names no subject; a refused subject is named.
      if (error.subject !== '') denied.push(error.subject);
      if (answered >= subjects.length) allAnswered?.();
    });
    for (const subject of subjects) link.nc.publish(subject, Empty, { reply: PROBE_REPLY });
    await link.nc.flush();
    if (answered < subjects.length) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        allAnswered = resolve;
        timer = setTimeout(resolve, ANSWER_WAIT_MS);
      });
      clearTimeout(timer);
    }
    if (denied.length > 0) {
      const shown = denied.slice(0, 3).join(', ');
      const more =
        denied.length > 3 ? ` and ${denied.length - 3} more of our ${subjects.length} subjects` : '';
      throw new Wal2NatsError(
        ErrorCode.NatsPermission,
        `NATS does not let ${identity} publish to ${shown}${more}`,
        `allow ${identity} to publish to ${config.subjectPrefix}.${config.messageKind === 'records' ? 'rows' : 'changes'}.${escapeSubjectToken(databaseName)}.> in the NATS server's permissions, or leave those tables or actions out with --tables, --exclude-tables or --actions`,
      );
    }
    if (answered < subjects.length) {
      // A server that does not refuse reserved reply subjects: the probes may have reached subscribers.
      log.warn('could not verify every publish permission: the NATS server did not answer every probe', {
        answered,
        probes: subjects.length,
        server: link.nc.getServer(),
      });
    } else {
      log.info('NATS lets us publish to our subjects', {
        user: identity,
        subjects: subjects.length,
        ...(all.length > subjects.length ? { not_checked: all.length - subjects.length } : {}),
      });
    }
    return true;
  } finally {
    await link.close();
  }
}
