/** TEMP: placeholder entry so the stack bundles; replaced by the token API's real entry at merge. */
export const handler = (): Promise<{ statusCode: number }> => Promise.resolve({ statusCode: 503 });
