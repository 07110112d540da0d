/**
 * The fault switches a test flips to make the emulator misbehave on the wire. This module only
 * keeps which fault is armed, which requests it applies to and for how many more; the HTTP layer
 * decides what each fault does to the answer.
 */

/** The two grants the token endpoint serves. */
export type TokenGrantType = 'authorization_code' | 'refresh_token';

/**
 * What a token fault does. The same modes serve both grants; where Intuit's side acts before the
 * answer is lost, the model's state changes exactly as it would without the fault:
 * - `latency`: waits `latencyMs`, then answers normally;
 * - `status500`, `status503`, `status429`, `invalid-client`: an answer Intuit gives before looking
 *   at the grant, so the code stays exchangeable and the refresh token stays unrotated;
 * - `hang`: the grant is served (a code burnt, a refresh token rotated) and no answer ever comes;
 * - `reset-after-consume`: the grant is served, then the connection is reset before any answer;
 *   on refresh this is the lost refresh answer: the old refresh token is dead and the caller never
 *   saw the new one;
 * - `malformed`: the grant is served and the answer is a 200 that is not a token response.
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
  /**
   * Only token requests with this `grant_type` are affected (and spend `times`); every other one is
   * served normally. Every token request is affected when absent.
   */
  grantType?: TokenGrantType;
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

/**
 * What a revocation fault does:
 * - `latency`: waits `latencyMs`, then answers normally;
 * - `status500`, `status429`: an outage or throttling answer, and nothing is revoked;
 * - `status400-empty`: the 400 with an empty body Intuit often sends for a grant it considers
 *   already revoked or expired, and nothing is revoked;
 * - `hang`: the revocation happens and no answer ever comes.
 */
export type RevokeFaultMode = 'none' | 'latency' | 'status500' | 'status400-empty' | 'status429' | 'hang';

export interface RevokeFault {
  mode: RevokeFaultMode;
  latencyMs?: number;
  /** How many revocation requests the fault affects before it clears itself; forever when absent. */
  times?: number;
}

/** A fault as set, with the number of requests it still affects (null: until cleared). */
export interface ArmedFault<Mode extends string> {
  readonly mode: Mode;
  readonly latencyMs: number;
  remaining: number | null;
}

interface ArmedTokenFault extends ArmedFault<FaultMode> {
  readonly grantType: TokenGrantType | null;
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

/** One switch per faultable endpoint: the token endpoint, revocation and CompanyInfo. */
export class FaultSwitches {
  private tokenFault: ArmedTokenFault | null = null;
  private revokeFault: ArmedFault<RevokeFaultMode> | null = null;
  private companyInfoFault: ArmedFault<CompanyInfoFaultMode> | null = null;

  setTokenFault(f: Fault): void {
    const armed = armFault(f);
    this.tokenFault = armed === null ? null : { ...armed, grantType: f.grantType ?? null };
  }

  setRevokeFault(f: RevokeFault): void {
    this.revokeFault = armFault(f);
  }

  setCompanyInfoFault(f: CompanyInfoFault): void {
    this.companyInfoFault = armFault(f);
  }

  clearTokenFault(): void {
    this.tokenFault = null;
  }

  clearRevokeFault(): void {
    this.revokeFault = null;
  }

  clearCompanyInfoFault(): void {
    this.companyInfoFault = null;
  }

  /** Clears every switch. */
  clearAll(): void {
    this.clearTokenFault();
    this.clearRevokeFault();
    this.clearCompanyInfoFault();
  }

  /**
   * The fault that applies to a token request with this `grant_type` (as sent, possibly empty),
   * counted against its `times`; null when none is armed or the armed one is for the other grant.
   */
  takeTokenFault(grantType: string): ArmedFault<FaultMode> | null {
    const fault = this.tokenFault;
    if (fault === null || (fault.grantType !== null && fault.grantType !== grantType)) return null;
    if (spendOnce(fault)) this.tokenFault = null;
    return fault;
  }

  /** The fault that applies to this revocation request, counted against its `times`. */
  takeRevokeFault(): ArmedFault<RevokeFaultMode> | null {
    const fault = this.revokeFault;
    if (fault !== null && spendOnce(fault)) this.revokeFault = null;
    return fault;
  }

  /** The fault that applies to this CompanyInfo request, counted against its `times`. */
  takeCompanyInfoFault(): ArmedFault<CompanyInfoFaultMode> | null {
    const fault = this.companyInfoFault;
    if (fault !== null && spendOnce(fault)) this.companyInfoFault = null;
    return fault;
  }
}
