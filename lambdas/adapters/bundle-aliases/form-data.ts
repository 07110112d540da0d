/**
 * Stands in for the `form-data` package in the Lambda bundles (lib/handler-bundling.ts). axios
 * imports it for multipart bodies, which the token client never sends; Node's built-in FormData
 * serves any caller that would, without the package's mime-db table.
 */
const NodeFormData = globalThis.FormData;
export default NodeFormData;
