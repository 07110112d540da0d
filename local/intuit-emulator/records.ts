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

export interface RevocationRequestRecord {
  at: number;
  /** 0 when no response was (or will ever be) sent: `hang`. */
  status: number;
  /**
   * `revoked`, `already_revoked`, `expired_grant`, `unknown_token`, `invalid_client`,
   * `invalid_request`, `method_not_allowed`, `fault:<mode>` or `hang:<outcome>`; `latency` records
   * the outcome of the delayed answer.
   */
  outcome: string;
}

/** The request records of one emulator; reset() forgets them. */
export class RequestRecords {
  private tokenRecords: TokenRequestRecord[] = [];
  private companyInfoRecords: CompanyInfoRequestRecord[] = [];
  private revocationRecords: RevocationRequestRecord[] = [];

  /** Keeps a record the HTTP layer completes once it knows the answer (or that none will come). */
  addTokenRequest(record: TokenRequestRecord): void {
    this.tokenRecords.push(record);
  }

  addCompanyInfoRequest(record: CompanyInfoRequestRecord): void {
    this.companyInfoRecords.push(record);
  }

  /** Keeps a record the HTTP layer completes once it knows the answer (or that none will come). */
  addRevocationRequest(record: RevocationRequestRecord): void {
    this.revocationRecords.push(record);
  }

  /** Copies, so a caller cannot rewrite history; only those with `grantType` when given. */
  tokenRequests(grantType?: string): TokenRequestRecord[] {
    return this.tokenRecords
      .filter((r) => grantType === undefined || r.grantType === grantType)
      .map((r) => ({ ...r }));
  }

  companyInfoRequests(): CompanyInfoRequestRecord[] {
    return this.companyInfoRecords.map((r) => ({ ...r }));
  }

  /** How many requests reached the revocation endpoint, whatever their outcome. */
  revocationRequests(): number {
    return this.revocationRecords.length;
  }

  revocationRequestRecords(): RevocationRequestRecord[] {
    return this.revocationRecords.map((r) => ({ ...r }));
  }

  /** authorization_code requests, optionally for one code hash. */
  exchangeCount(codeHash?: string): number {
    return this.tokenRecords.filter(
      (r) => r.grantType === 'authorization_code' && (codeHash === undefined || r.codeHash === codeHash),
    ).length;
  }

  /** refresh_token requests, whatever their outcome. */
  refreshCount(): number {
    return this.tokenRecords.filter((r) => r.grantType === 'refresh_token').length;
  }

  reset(): void {
    this.tokenRecords = [];
    this.companyInfoRecords = [];
    this.revocationRecords = [];
  }
}
