/**
 * Stands in for `follow-redirects` in the Lambda bundles (lib/handler-bundling.ts). axios uses it
 * only when `maxRedirects` is above 0; the token client sets 0, so axios takes Node's own http and
 * https. Should that setting ever change, these transports still follow nothing: a redirect from
 * the token endpoint stays a response that the client classifies, never a second request.
 */
import * as http from 'node:http';
import * as https from 'node:https';

const transports = { http, https };
export default transports;
