/**
 * Stands in for `https-proxy-agent` in the Lambda bundles (lib/handler-bundling.ts). axios builds
 * one only for a configured or environment proxy; the token client sets `proxy: false`, and a
 * tunnel nobody asked for must not be built silently, so constructing this one throws.
 */
export default class HttpsProxyAgent {
  constructor() {
    throw new Error('proxies are disabled for the token client (proxy: false)');
  }
}
