/**
 * A CompanyInfo endpoint that records every check and answers from a script: verified by default,
 * or whatever a test says Intuit answers (the last scripted answer repeats).
 */
import type { CompanyCheck, CompanyInfoEndpoint } from '../../../lambdas/core/company-info';

export const COMPANY_NAME = 'Canary Bakery LLC';

export const verified = (companyName = COMPANY_NAME): CompanyCheck => ({
  kind: 'verified',
  companyName,
  intuitTid: '1-companyinfo-tid-0001',
});

export type CompanyCheckBehaviour = CompanyCheck | { readonly kind: 'hang' };

export interface CompanyCheckCall {
  readonly realmId: string;
  readonly accessToken: string;
  readonly timeoutMs: number;
}

export class FakeCompanyInfo implements CompanyInfoEndpoint {
  readonly checks: CompanyCheckCall[] = [];
  private script: CompanyCheckBehaviour[];

  constructor(...script: CompanyCheckBehaviour[]) {
    this.script = script.length > 0 ? script : [verified()];
  }

  answer(...script: CompanyCheckBehaviour[]): void {
    this.script = script;
  }

  async checkCompany(realmId: string, accessToken: string, timeoutMs: number): Promise<CompanyCheck> {
    this.checks.push({ realmId, accessToken, timeoutMs });
    const behaviour = this.script.length > 1 ? this.script.shift() : this.script[0];
    if (behaviour === undefined) throw new Error('empty company check script');
    if (behaviour.kind === 'hang') return new Promise(() => undefined);
    return behaviour;
  }
}
