/**
 * Stands in for `proxy-from-env` in the Lambda bundles (lib/handler-bundling.ts): no proxy from
 * the environment, which is what `proxy: false` already tells axios.
 */
export function getProxyForUrl(): string {
  return '';
}
