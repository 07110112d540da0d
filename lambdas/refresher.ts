/** TEMP: placeholder entry so the stack bundles; replaced by the keep-alive refresher's real entry at merge. */
export const handler = (): Promise<void> => Promise.resolve();
