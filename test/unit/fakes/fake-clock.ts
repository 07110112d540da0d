/** A controllable clock whose sleep advances time instead of waiting. */
export class FakeClock {
  private current: number;
  /** Called after each sleep has advanced the clock (lets a test act "while" a flow waits). */
  onSleep: (ms: number) => Promise<void> | void = () => undefined;
  readonly sleeps: number[] = [];

  constructor(start = Date.UTC(2025, 0, 15, 12, 0, 0)) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  advance(ms: number): void {
    this.current += ms;
  }

  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.current += ms;
    await this.onSleep(ms);
  };
}
