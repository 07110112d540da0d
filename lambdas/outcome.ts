/** Lambda entry for GET /outcome/{kind}: static pages, no table, no secret. */
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { createOutcomeHandler } from './handlers/factories';

// The outcome pages publish no metrics: their events are logged only.
export const handler = createOutcomeHandler(
  awsTelemetry(process.env, { metrics: false }),
  awsPageSettings(process.env),
);
