// Temporary entry point; the real handler lands with the connect/callback work.
export const handler = async (): Promise<{ statusCode: number }> => ({ statusCode: 503 });
