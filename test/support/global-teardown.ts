export default async function globalTeardown(): Promise<void> {
  await globalThis.__QBO_DYNAMODB__?.stop();
}
