/**
 * Decodes a record of the connections table's DynamoDB stream (NEW_AND_OLD_IMAGES) into a
 * ConnectionChange. The same shape comes from Lambda's event source mapping (binary as base64
 * text, times in epoch seconds) and from the DynamoDB Streams API the local server polls (binary as
 * bytes, times as Dates): both are read here. Token attributes are dropped before anything else
 * looks at an image, so no token can reach an event or a log line.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { ConnectionChange } from '../core/lifecycle-events';
import { fromConnectionItem, LEGACY_TOKEN_ATTRIBUTES, SEALED_TOKENS } from './connection-item';

/** What this module reads of a stream record, as Lambda and the Streams API both deliver it. */
export interface ConnectionStreamRecord {
  readonly eventName?: string | undefined;
  readonly dynamodb?:
    | {
        readonly OldImage?: Readonly<Record<string, unknown>> | undefined;
        readonly NewImage?: Readonly<Record<string, unknown>> | undefined;
        readonly SequenceNumber?: string | undefined;
        /** Epoch seconds (Lambda) or a Date (the Streams API). */
        readonly ApproximateCreationDateTime?: number | Date | undefined;
      }
    | undefined;
}

const SECRET_ATTRIBUTES: readonly string[] = [SEALED_TOKENS, ...LEGACY_TOKEN_ATTRIBUTES];

/** Whether an image held a connection (rather than an item with no grant yet). */
function heldAGrant(item: Readonly<Record<string, unknown>>): boolean {
  return ['status', 'grantedAt', 'connectedAt', 'accessTokenExpiresAt'].some((name) => name in item);
}

function decodeImage(
  image: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> | undefined {
  if (image === undefined) return undefined;
  const withoutSecrets = Object.fromEntries(
    Object.entries(image).filter(([name]) => !SECRET_ATTRIBUTES.includes(name)),
  ) as Record<string, AttributeValue>;
  return unmarshall(withoutSecrets);
}

/** When the stream saw the write, epoch ms; `fallback` when the record does not say. */
export function observedAtOf(record: ConnectionStreamRecord, fallback: number): number {
  const time = record.dynamodb?.ApproximateCreationDateTime;
  if (time instanceof Date) return time.getTime();
  return typeof time === 'number' ? time * 1000 : fallback;
}

/** The change one record describes, with both connections read without tokens. */
export function connectionChangeOf(record: ConnectionStreamRecord, now: number): ConnectionChange {
  const oldItem = decodeImage(record.dynamodb?.OldImage);
  const newItem = record.eventName === 'REMOVE' ? undefined : decodeImage(record.dynamodb?.NewImage);
  return {
    ...(oldItem !== undefined && heldAGrant(oldItem) ? { previous: fromConnectionItem(oldItem) } : {}),
    ...(newItem !== undefined ? { next: fromConnectionItem(newItem) } : {}),
    observedAt: observedAtOf(record, now),
  };
}
