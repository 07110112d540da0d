/**
 * The fault switches a test flips to make the emulator misbehave on the wire. This module only
 * keeps which fault is armed and for how many more requests; the HTTP layer decides what each
 * fault does to the answer.
 */

export type FaultMode =
  | 'none'
  | 'latency'
  | 'status500'
  | 'status503'
  | 'status429'
  | 'hang'
  | 'reset-after-consume'
  | 'malformed'
  | 'invalid-client';

export interface Fault {
  mode: FaultMode;
  latencyMs?: number;
  /** How many token requests the fault affects before it clears itself; forever when absent. */
  times?: number;
}

export type CompanyInfoFaultMode =
  | 'none'
  | 'latency'
  | 'status401'
  | 'status403'
  | 'wrong-cluster'
  | 'status500'
  | 'status503'
  | 'status429'
  | 'hang'
  | 'reset';

export interface CompanyInfoFault {
  mode: CompanyInfoFaultMode;
  latencyMs?: number;
  /** How many CompanyInfo requests the fault affects before it clears itself; forever when absent. */
  times?: number;
}

/** A fault as set, with the number of requests it still affects (null: until cleared). */
export interface ArmedFault<Mode extends string> {
  readonly mode: Mode;
  readonly latencyMs: number;
  remaining: number | null;
}

function armFault<Mode extends string>(f: {
  mode: Mode | 'none';
  latencyMs?: number;
  times?: number;
}): ArmedFault<Mode> | null {
  if (f.mode === 'none' || (f.times !== undefined && f.times <= 0)) return null;
  return { mode: f.mode, latencyMs: f.latencyMs ?? 0, remaining: f.times ?? null };
}

/** Counts one affected request; true when that was the fault's last. */
function spendOnce(fault: ArmedFault<string>): boolean {
  if (fault.remaining === null) return false;
  fault.remaining -= 1;
  return fault.remaining <= 0;
}

/** One switch per faultable endpoint: the token endpoint and CompanyInfo. */
export class FaultSwitches {
  private tokenFault: ArmedFault<FaultMode> | null = null;
  private companyInfoFault: ArmedFault<CompanyInfoFaultMode> | null = null;

  setTokenFault(f: Fault): void {
    this.tokenFault = armFault(f);
  }

  setCompanyInfoFault(f: CompanyInfoFault): void {
    this.companyInfoFault = armFault(f);
  }

  clearTokenFault(): void {
    this.tokenFault = null;
  }

  clearCompanyInfoFault(): void {
    this.companyInfoFault = null;
  }

  /** The fault that applies to this token request, counted against its `times`. */
  takeTokenFault(): ArmedFault<FaultMode> | null {
    const fault = this.tokenFault;
    if (fault !== null && spendOnce(fault)) this.tokenFault = null;
    return fault;
  }

  /** The fault that applies to this CompanyInfo request, counted against its `times`. */
  takeCompanyInfoFault(): ArmedFault<CompanyInfoFaultMode> | null {
    const fault = this.companyInfoFault;
    if (fault !== null && spendOnce(fault)) this.companyInfoFault = null;
    return fault;
  }
}
