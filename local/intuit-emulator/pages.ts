/**
 * The emulator's HTML: the consent page a user connects a company on, and the error page Intuit
 * shows instead of redirecting when it cannot trust the redirect URI (or when a fault fakes an
 * outage). Everything from the request is escaped, as these pages echo it.
 */

/** Where the consent form posts its decision. */
export const DECISION_PATH = '/connect/oauth2/decision';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f8;color:#1b1b1b}' +
  'main{max-width:32rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;' +
  'box-shadow:0 1px 4px rgba(0,0,0,.15)}h1{font-size:1.4rem}' +
  'button{font-size:1rem;padding:.6rem 1.4rem;margin-right:.8rem;border-radius:4px;border:1px solid #0b6e0b;cursor:pointer}' +
  'button[value=allow]{background:#0b6e0b;color:#fff}button[value=deny]{background:#fff;color:#0b6e0b}' +
  'button:focus-visible{outline:3px solid #0077c5;outline-offset:2px}';

function renderPage(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
${content}
</main>
</body>
</html>
`;
}

/** The page a user picks a company on and connects (or cancels); its form posts to DECISION_PATH. */
export function renderConsentPage(p: {
  appName: string;
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  companies: ReadonlyMap<string, string>;
  defaultRealmId: string;
}): string {
  const hidden = (name: string, value: string): string =>
    `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  // No whitespace between options, so the select's text is just the company names.
  const options = [...p.companies]
    .map(
      ([realmId, name]) =>
        `<option value="${realmId}"${realmId === p.defaultRealmId ? ' selected' : ''}>${escapeHtml(name)}</option>`,
    )
    .join('');
  return renderPage(
    'Connect to QuickBooks - Intuit emulator',
    `<h1>Intuit emulator — ${escapeHtml(p.appName)} wants to connect to your QuickBooks company</h1>
<p>Requested access: <code>${escapeHtml(p.scope)}</code></p>
<form method="post" action="${DECISION_PATH}">
${hidden('client_id', p.clientId)}
${hidden('redirect_uri', p.redirectUri)}
${hidden('state', p.state)}
${hidden('scope', p.scope)}
<p><label for="realm_id">Company</label>
<select id="realm_id" name="realm_id">${options}</select></p>
<button name="decision" value="allow">Connect</button>
<button name="decision" value="deny">Cancel</button>
</form>`,
  );
}

/** A dead end with a message, shown where redirecting would hand the answer to an unproven URI. */
export function renderErrorPage(message: string): string {
  return renderPage(
    'Error - Intuit emulator',
    `<h1>Intuit emulator — this connection request cannot be completed</h1>\n<p>${escapeHtml(message)}</p>`,
  );
}
