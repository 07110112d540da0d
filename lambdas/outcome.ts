/** Lambda entry for GET /outcome/{kind}: static pages, no table, no secret. */
import { awsPageSettings, awsTelemetry } from './handlers/aws-settings';
import { createOutcomeHandler } from './handlers/factories';

export const handler = createOutcomeHandler(awsTelemetry(process.env), awsPageSettings(process.env));
