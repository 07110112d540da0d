/**
 * What the browser flows decide, as values: the core says what happened, and one module at the
 * edge (lambdas/handlers/web/render.ts) turns it into a page, a redirect and headers. A JSON API
 * can map the same results to JSON.
 */

/** Where a finished callback sends the browser (E1). */
export type CallbackOutcome = 'connected' | 'cancelled' | 'failed' | 'unverified' | 'other-account';

export type FlowResult =
  /** The callback finished: 303 to its outcome; `forgetFlowState` is the flow whose cookie to expire. */
  | {
      readonly kind: 'outcome';
      readonly outcome: CallbackOutcome;
      readonly reference?: string;
      readonly realmId?: string;
      /** The flow's app tenant (I2), for the signed redirect to the app. */
      readonly tenantId?: string;
      readonly forgetFlowState?: string;
    }
  /** /connect: 302 to Intuit's consent page, with the cookie that binds the flow to this browser (A2). */
  | {
      readonly kind: 'authorize';
      readonly location: string;
      readonly flowCookie: {
        readonly state: string;
        readonly issuedAt: number;
        readonly maxAgeSeconds: number;
      };
    }
  /** A5, I1: a connect link refused before any flow exists: "ask the app for a new link". */
  | { readonly kind: 'link-refused' }
  /** B1: a state that cannot be trusted: the restart page, nothing spent. */
  | { readonly kind: 'refused' }
  /** B2, B3: a malformed or doubled query. */
  | { readonly kind: 'invalid-request' }
  /** A duplicate mid-exchange, or an outcome the ledger has yet to decide: the self-refreshing page. */
  | { readonly kind: 'in-flight' }
  /** 503: configuration not usable yet, or a dependency that may answer on a retry. */
  | {
      readonly kind: 'unavailable';
      readonly reason: 'not-configured' | 'try-again';
      readonly reference: string;
    }
  | { readonly kind: 'method-not-allowed' }
  /** /reconnect with signed links required: 302 to the app's own reconnect page (configuration, A4). */
  | { readonly kind: 'app-reconnect'; readonly location: string }
  /** A landing page that only informs: the Disconnect URL, or "reconnect from the app". */
  | { readonly kind: 'notice'; readonly page: 'disconnected' | 'reconnect-from-app' };
