/**
 * What the emulator was asked, in order of arrival: the facts tests assert on ("exactly one
 * exchange", "no CompanyInfo call after a failed exchange"). Records are completed by the HTTP layer
 * once the answer (or its absence) is known, so a hung request shows as pending.
 */

export interface CompanyInfoRequestRecord {
  /** The first realm id of the request path, as sent. */
  realmId: string;
  /** The `minorversion` query parameter, when one was sent. */
  minorVersion?: string;
  at: number;
  /** 0 when no response was (or will ever be) sent: `hang` and `reset`. */
  status: number;
  /**
   * `ok`, `realm_mismatch`, `invalid_token`, `bad_request`, `method_not_allowed` or `fault:<mode>`;
   * `latency` records the outcome of the delayed answer.
   */
  outcome: string;
}

export interface TokenRequestRecord {
  grantType: string;
  /** SHA-256 hex of the `code` parameter, when one was sent. */
  codeHash?: string;
  at: number;
  /** 0 when no response was (or will ever be) sent: `hang` and `reset-after-consume`. */
  status: number;
  /** e.g. `issued`, `invalid_grant:replay`, `fault:status503`, `hang:issued`. */
  outcome: string;
}

/** The request records of one emulator; reset() forgets them. */
export class RequestRecords {
  private tokenRecords: TokenRequestRecord[] = [];
  private companyInfoRecords: CompanyInfoRequestRecord[] = [];
  private revocationCount = 0;

  /** Keeps a record the HTTP layer completes once it knows the answer (or that none will come). */
  addTokenRequest(record: TokenRequestRecord): void {
    this.tokenRecords.push(record);
  }

  addCompanyInfoRequest(record: CompanyInfoRequestRecord): void {
    this.companyInfoRecords.push(record);
  }

  countRevocationRequest(): void {
    this.revocationCount += 1;
  }

  /** Copies, so a caller cannot rewrite history. */
  tokenRequests(): TokenRequestRecord[] {
    return this.tokenRecords.map((r) => ({ ...r }));
  }

  companyInfoRequests(): CompanyInfoRequestRecord[] {
    return this.companyInfoRecords.map((r) => ({ ...r }));
  }

  revocationRequests(): number {
    return this.revocationCount;
  }

  /** authorization_code requests, optionally for one code hash. */
  exchangeCount(codeHash?: string): number {
    return this.tokenRecords.filter(
      (r) => r.grantType === 'authorization_code' && (codeHash === undefined || r.codeHash === codeHash),
    ).length;
  }

  reset(): void {
    this.tokenRecords = [];
    this.companyInfoRecords = [];
    this.revocationCount = 0;
  }
}
