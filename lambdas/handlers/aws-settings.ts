/** Settings every entry reads from the environment; no AWS SDK here, so the outcome bundle stays small. */
import { createPowertoolsTelemetry } from '../adapters/powertools-telemetry';
import type { PowertoolsTelemetry } from '../adapters/powertools-telemetry';
import { DEFAULT_APP_NAME } from '../core/config';
import type { RenderSettings } from './web/render';

type Env = Readonly<Record<string, string | undefined>>;

export function awsTelemetry(env: Env, options: { readonly metrics?: boolean } = {}): PowertoolsTelemetry {
  return createPowertoolsTelemetry(env['APP_ENV'] ?? 'unknown', options);
}

export function awsPageSettings(env: Env): RenderSettings {
  const appReturnUrl = env['APP_RETURN_URL'];
  return {
    appName: env['APP_NAME'] ?? DEFAULT_APP_NAME,
    ...(appReturnUrl !== undefined && appReturnUrl !== '' ? { appReturnUrl } : {}),
    https: true,
  };
}
