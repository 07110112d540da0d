/** Lambda entry for the connections table's stream: lifecycle events onto the stack's EventBridge bus. */
import { EventBridgePublisher } from './adapters/eventbridge-publisher';
import { ConfigError } from './core/errors';
import { once } from './core/runtime';
import { awsTelemetry } from './handlers/aws-settings';
import { createLifecycleEventsHandler } from './handlers/event-factories';

const telemetry = awsTelemetry(process.env);
export const handler = createLifecycleEventsHandler(
  {
    publisher: once(() => {
      const bus = process.env['EVENT_BUS_NAME'];
      if (bus === undefined || bus === '') throw new ConfigError(['EVENT_BUS_NAME is not set']);
      return new EventBridgePublisher(bus);
    }),
    telemetry,
    clock: Date.now,
  },
  telemetry,
);
