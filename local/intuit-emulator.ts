/**
 * An in-process stand-in for Intuit's OAuth 2.0 server and for the one QuickBooks API call the
 * connector makes (CompanyInfo, to prove a new token belongs to the callback's realmId), following
 * Intuit's documented behaviour, for local runs and tests only: production and sandbox are
 * unreachable from here, and the connector's exactly-once guarantees can only be tested against
 * something that punishes a second exchange the way Intuit does. Never bundled into a Lambda.
 *
 * This is the public entry; importers need nothing else. The OAuth rules live in
 * intuit-emulator/model.ts with its records and Intuit's error bodies (no sockets, an injectable
 * clock); the HTTP layer is intuit-emulator/server.ts with the endpoints, pages, wire helpers and
 * fault switches beside it.
 */
export type {
  CompanyInfoFault,
  CompanyInfoFaultMode,
  Fault,
  FaultMode,
  RevokeFault,
  RevokeFaultMode,
  TokenGrantType,
} from './intuit-emulator/faults';
export type { EmulatedClient, RefreshTokenState } from './intuit-emulator/model';
export type {
  CompanyInfoRequestRecord,
  RevocationRequestRecord,
  TokenRequestRecord,
} from './intuit-emulator/records';
export type { EmulatorOptions, IntuitEmulator } from './intuit-emulator/server';
export { startIntuitEmulator } from './intuit-emulator/server';
