/**
 * Wires the core flows to the fakes: a started flow (state + browser cookie), a callback call that
 * looks like API Gateway's request fields, and everything a test wants to inspect afterwards.
 */
import { FakeTokenEncrypter } from './fake-token-encrypter';
import { callbackRoute } from '../../../lambdas/handlers/web/browser-routes';
import type { ServiceConfig } from '../../../lambdas/core/config';
import { flowCookieName } from '../../../lambdas/core/flow-cookie';
import { newState, sha256Hex } from '../../../lambdas/core/flow-identifiers';
import type { HttpResponse } from '../../../lambdas/handlers/web/http-responses';
import type { ConnectorRuntime, FlowDependencies } from '../../../lambdas/core/runtime';
import { CapturingTelemetry } from './capturing-telemetry';
import { FakeClock } from './fake-clock';
import type { CompanyCheckBehaviour } from './fake-company-info';
import { FakeCompanyInfo } from './fake-company-info';
import type { ExchangeBehaviour } from './fake-token-endpoint';
import { FakeTokenEndpoint } from './fake-token-endpoint';
import { InMemoryFlowLedger } from './in-memory-flow-ledger';
import { FakeCredentials, serviceConfig } from './service-config';

export const REALM_ID = '9341452211783456';

export interface StartedFlow {
  readonly state: string;
  readonly stateHash: string;
  /** The cookie as the browser sends it back ("name=value"). */
  readonly cookie: string;
  readonly code: string;
}

export interface HarnessOptions {
  readonly config?: Partial<ServiceConfig>;
  readonly script?: ExchangeBehaviour[];
  readonly companyChecks?: CompanyCheckBehaviour[];
  readonly inFlightWaitMs?: number;
}

export class FlowHarness {
  readonly clock = new FakeClock();
  readonly ledger = new InMemoryFlowLedger();
  readonly telemetry = new CapturingTelemetry();
  readonly credentials = new FakeCredentials();
  readonly tokenEndpoint: FakeTokenEndpoint;
  readonly companyInfo: FakeCompanyInfo;
  readonly tokenEncrypter = new FakeTokenEncrypter();
  readonly config: ServiceConfig;
  runtime: () => ConnectorRuntime;
  private codes = 0;

  constructor(private readonly options: HarnessOptions = {}) {
    this.config = serviceConfig(options.config);
    this.tokenEndpoint = new FakeTokenEndpoint(...(options.script ?? []));
    this.companyInfo = new FakeCompanyInfo(...(options.companyChecks ?? []));
    this.runtime = () => ({
      config: this.config,
      credentials: this.credentials,
      ledger: this.ledger,
      tokenEndpoint: this.tokenEndpoint,
      companyInfo: this.companyInfo,
      tokenEncrypter: this.tokenEncrypter,
    });
  }

  get deps(): FlowDependencies {
    return {
      runtime: () => this.runtime(),
      telemetry: this.telemetry,
      clock: this.clock.now,
      sleep: this.clock.sleep,
      ...(this.options.inFlightWaitMs !== undefined ? { inFlightWaitMs: this.options.inFlightWaitMs } : {}),
    };
  }

  /** Runs the flows on other credentials (unusable, unavailable), everything else unchanged. */
  useCredentials(credentials: ConnectorRuntime['credentials']): void {
    this.runtime = () => ({
      config: this.config,
      credentials,
      ledger: this.ledger,
      tokenEndpoint: this.tokenEndpoint,
      companyInfo: this.companyInfo,
      tokenEncrypter: this.tokenEncrypter,
    });
  }

  /**
   * Starts a callback whose exchange never answers (the claimant "crashed"), then moves the clock
   * to the moment its lease passes. The script must make the exchange hang.
   */
  async crashMidExchange(flow: StartedFlow): Promise<void> {
    void this.callback(flow);
    await new Promise((resolve) => setImmediate(resolve));
    const entry = this.ledger.entries.get(sha256Hex(flow.code));
    this.clock.advance((entry?.leaseUntil ?? 0) - this.clock.now());
  }

  /** A flow as /connect would have stored it, with a fresh authorization code from Intuit. */
  async startFlow(ttlSeconds = this.config.flowTtlSeconds, tenantId?: string): Promise<StartedFlow> {
    const state = newState();
    const stateHash = sha256Hex(state);
    const now = this.clock.now();
    await this.ledger.createFlow({
      stateHash,
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
      ...(tenantId !== undefined ? { tenantId } : {}),
    });
    return { state, stateHash, cookie: `${flowCookieName(state)}=${state}.${now}`, code: this.newCode() };
  }

  newCode(): string {
    this.codes += 1;
    return `AB11canaryCode${String(this.codes).padStart(4, '0')}xYz`;
  }

  /** The callback URL Intuit sends the browser to, with the browser's cookie. */
  callback(
    flow: StartedFlow,
    overrides: { code?: string; query?: string; cookies?: string[] } = {},
  ): Promise<HttpResponse> {
    const query =
      overrides.query ??
      new URLSearchParams({
        code: overrides.code ?? flow.code,
        state: flow.state,
        realmId: REALM_ID,
      }).toString();
    return this.request('GET', query, overrides.cookies ?? [flow.cookie]);
  }

  request(method: string, rawQuery: string, cookies: readonly string[]): Promise<HttpResponse> {
    return callbackRoute({ method, rawQuery, cookies }, this.deps);
  }
}
