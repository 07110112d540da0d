/**
 * Runbook entries in docs/runbook.md, one per alarm. Each value is the anchor of a `## <Heading>`
 * whose GitHub slug it is (lower case, no spaces); an infra test reads the runbook and checks that
 * every alarm's description points at an anchor that exists.
 */
export const RUNBOOK_ANCHORS = {
  invalidGrant: 'invalidgrant',
  invalidClient: 'invalidclient',
  configError: 'configerror',
  tokenExchangeFailed: 'tokenexchangefailed',
  tokenExchangeAmbiguous: 'tokenexchangeambiguous',
  tokenStoreFailed: 'tokenstorefailed',
  realmMismatch: 'realmmismatch',
  companyCheckUnavailable: 'companycheckunavailable',
  secretsUnavailable: 'secretsunavailable',
  storageUnavailable: 'storageunavailable',
  lambdaErrors: 'lambdaerrors',
  lambdaThrottles: 'lambdathrottles',
  api5xx: 'api5xx',
  dynamoDbThrottles: 'dynamodbthrottles',
  dynamoDbSystemErrors: 'dynamodbsystemerrors',
  refreshInvalidGrant: 'refreshinvalidgrant',
  refreshStoreFailed: 'refreshstorefailed',
  refreshAmbiguous: 'refreshambiguous',
  keyServiceUnavailable: 'keyserviceunavailable',
  tokenDecryptFailed: 'tokendecryptfailed',
  connectionsReconnectRequired: 'connectionsreconnectrequired',
  connectionsNearHardExpiry: 'connectionsnearhardexpiry',
  refresherErrors: 'refreshererrors',
  keepAliveNotRunning: 'keepalivenotrunning',
  lifecycleEventsFailed: 'lifecycleeventsfailed',
  webhookDeliveryAbandoned: 'webhookdeliveryabandoned',
} as const;
export type RunbookAnchor = (typeof RUNBOOK_ANCHORS)[keyof typeof RUNBOOK_ANCHORS];
