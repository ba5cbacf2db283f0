#!/usr/bin/env node
// A real OpenID Provider for tests: panva's certified `oidc-provider`, plain http on loopback.
//
//   node op.mjs --port 0 --state /tmp/op-state.json \
//     --client-id registry --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:8000/oidc/callback/ \
//     --post-logout-redirect-uri http://127.0.0.1:8000/
//
// Prints one line `OIDC-PROVIDER READY {"issuer":...,"port":...,"pid":...}` on stdout when it listens.
// Every option can also come from the environment (OP_PORT, OP_HOST, OP_ISSUER, OP_CLIENT_ID,
// OP_CLIENT_SECRET, OP_REDIRECT_URIS, OP_POST_LOGOUT_REDIRECT_URIS (comma separated), OP_STATE).
//
// The state file is JSON, re-read on every request, so a test can change it between sign-ins:
//   {
//     "accounts": {                    // login name -> account; the password is checked by the form
//       "alice": {"password": "pw", "sub": "u-1001", "email": "a@x", "name": "Alice",
//                 "groups": ["ml-reviewers"]},          // leave "groups" out: no groups claim at all
//     },
//     "tweaks": {                      // all optional; how a test provokes bad answers
//       "groupsIn": "both",            // "id_token" | "userinfo" | "both" (default) | "none"
//       "idTokenTtl": 3600,            // seconds
//       "clockSkew": 0,                // seconds added to this process's clock (negative: tokens born old)
//       "wrongJwks": false,            // publish a different key under the signing kid (signature fails)
//       "advertiseIssuer": null,       // rewrite `issuer` in the discovery document only
//       "discoveryOverrides": {},      // merged into the discovery document; null removes a key
//                                      //   e.g. {"end_session_endpoint": null}: a provider without logout
//       "skipConsent": false           // grant the requested scopes without showing the consent page
//     }
//   }

import fs from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const list = (value) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : []);

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.OP_HOST || '127.0.0.1' },
    port: { type: 'string', default: process.env.OP_PORT || '0' },
    issuer: { type: 'string', default: process.env.OP_ISSUER || '' },
    'client-id': { type: 'string', default: process.env.OP_CLIENT_ID || 'registry' },
    'client-secret': { type: 'string', default: process.env.OP_CLIENT_SECRET || 'registry-secret' },
    'redirect-uri': { type: 'string', multiple: true, default: list(process.env.OP_REDIRECT_URIS) },
    'post-logout-redirect-uri': {
      type: 'string', multiple: true, default: list(process.env.OP_POST_LOGOUT_REDIRECT_URIS),
    },
    state: { type: 'string', default: process.env.OP_STATE || '' },
  },
});

if (!['127.0.0.1', '::1', 'localhost'].includes(args.host)) {
  console.error(`refusing to listen on ${args.host}: this provider is for loopback tests only`);
  process.exit(2);
}
if (args['redirect-uri'].length === 0) {
  console.error('at least one --redirect-uri (or OP_REDIRECT_URIS) is required');
  process.exit(2);
}

// ---- dynamic state (accounts + tweaks), re-read on every request -----------------------------------
let state = { accounts: {}, tweaks: {} };
function loadState() {
  if (!args.state) return;
  try {
    const parsed = JSON.parse(fs.readFileSync(args.state, 'utf8'));
    state = { accounts: parsed.accounts || {}, tweaks: parsed.tweaks || {} };
  } catch (err) {
    // A test rewriting the file may be caught mid-write: keep the last good state.
    if (err.code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
}
loadState();
const tweak = (name, fallback) => (state.tweaks[name] ?? fallback);

// Clock skew for "expired token" tests: everything in oidc-provider reads Date.now().
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + 1000 * Number(tweak('clockSkew', 0));

const accountByLogin = (login) => state.accounts[login];
const accountBySub = (sub) => Object.values(state.accounts).find((a) => (a.sub || '') === sub);

// ---- keys: fresh RSA keys every start ---------------------------------------------------------------
async function rsaJwk(kid) {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}
const kid = `k-${randomBytes(6).toString('hex')}`;
const signingJwk = await rsaJwk(kid);
const { d, p, q, dp, dq, qi, ...otherPublic } = await rsaJwk(kid); // same kid, other key
const wrongJwks = { keys: [otherPublic] };

// ---- minimal HTML pages (no external fonts or scripts: the tests run offline) ---------------------
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${esc(title)}</title><style>body{font-family:sans-serif;max-width:28em;margin:2em auto}
label,input,button{display:block;margin:.4em 0}.error{color:#a00}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;

function loginForm(uid, clientName, error, login = '') {
  return page('Sign in to the test provider', `
<p>Application: <strong>${esc(clientName)}</strong></p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
  <label for="login">Username</label><input id="login" name="login" value="${esc(login)}" required autofocus>
  <label for="password">Password</label><input id="password" name="password" type="password" required>
  <button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

function consentForm(uid, clientName, details) {
  const scopes = details.missingOIDCScope || [];
  return page('Authorize', `
<p><strong>${esc(clientName)}</strong> asks for: ${scopes.map((s) => `<code>${esc(s)}</code>`).join(' ')}</p>
<form method="post" action="/interaction/${esc(uid)}/confirm"><button type="submit">Allow</button></form>
<p><a href="/interaction/${esc(uid)}/abort">Deny</a></p>`);
}

// ---- the provider -----------------------------------------------------------------------------------
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), args.host, resolve));
const { port } = server.address();
const issuer = args.issuer || `http://${args.host === '::1' ? '[::1]' : args.host}:${port}`;

const configuration = {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    client_name: 'Model registry (test)',
    redirect_uris: args['redirect-uri'],
    post_logout_redirect_uris: args['post-logout-redirect-uri'],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingJwk] },
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    // Cookies ignore ports: two providers on 127.0.0.1 must not overwrite each other's session.
    names: { session: `_op${port}_session`, interaction: `_op${port}_interaction`, resume: `_op${port}_resume` },
  },
  pkce: { required: () => true },
  // Scope claims go into the ID token as well, not only to userinfo (groups may be read from either).
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  ttl: {
    IdToken: () => Number(tweak('idTokenTtl', 3600)),
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.type = 'html';
        ctx.body = page('Sign out of the test provider?', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Provider error', Object.entries(out)
      .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join(''));
  },
  async findAccount(ctx, sub) {
    const account = accountBySub(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims(use) {
        const where = tweak('groupsIn', 'both');
        const claims = {
          sub,
          email: account.email,
          email_verified: account.email ? true : undefined,
          name: account.name,
          preferred_username: account.preferred_username ?? account.login,
        };
        const give = where === 'both' || where === use;
        if (give && Array.isArray(account.groups)) claims.groups = account.groups;
        return claims;
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// ---- the interaction endpoints (login form, consent) ------------------------------------------------
async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Error', '<p>interaction mismatch</p>'));
  const { prompt, params, session, grantId } = details;
  const client = await provider.Client.find(params.client_id);
  const clientName = client?.clientName || params.client_id;

  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'login') {
    if (req.method === 'GET') return send(res, 200, loginForm(uid, clientName));
    if (action !== 'login') return send(res, 400, page('Error', '<p>expected login</p>'));
    const form = await readForm(req);
    const login = form.get('login') || '';
    const account = accountByLogin(login);
    if (!account || account.password !== form.get('password')) {
      return send(res, 200, loginForm(uid, clientName, 'Wrong username or password.', login));
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } },
      { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const consent = async () => {
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
        { mergeWithLastSubmission: true });
    };
    if (tweak('skipConsent', false)) return consent();
    if (req.method === 'GET') return send(res, 200, consentForm(uid, clientName, prompt.details));
    if (action !== 'confirm') return send(res, 400, page('Error', '<p>expected confirm</p>'));
    await readForm(req);
    return consent();
  }
  return send(res, 501, page('Error', `<p>prompt ${esc(prompt.name)} not implemented</p>`));
}

// ---- request routing --------------------------------------------------------------------------------
const providerHandler = provider.callback();
const jwksPath = new URL(provider.urlFor('jwks')).pathname;
const discoveryPath = '/.well-known/openid-configuration';

server.on('request', async (req, res) => {
  loadState();
  const { pathname } = new URL(req.url, issuer);
  try {
    const m = pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?\/?$/);
    if (m) return await interaction(req, res, m[1], m[2]);

    if (pathname === jwksPath && tweak('wrongJwks', false)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(wrongJwks));
    }
    const overrides = { ...tweak('discoveryOverrides', {}) };
    if (tweak('advertiseIssuer', null)) overrides.issuer = tweak('advertiseIssuer', null);
    if (pathname === discoveryPath && Object.keys(overrides).length) {
      // Let the provider answer, then swap the issuer in the JSON it wrote.
      const chunks = [];
      const { write, end, writeHead, setHeader } = res;
      res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
      res.setHeader = (name, value) => (name.toLowerCase() === 'content-length' ? res : setHeader.call(res, name, value));
      res.writeHead = (...a) => writeHead.apply(res, a);
      res.end = (chunk) => {
        if (chunk) chunks.push(Buffer.from(chunk));
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const [key, value] of Object.entries(overrides)) {
          if (value === null) delete doc[key];
          else doc[key] = value;
        }
        res.write = write;
        return end.call(res, JSON.stringify(doc));
      };
    }
    return providerHandler(req, res);
  } catch (err) {
    console.error('interaction error', err);
    if (!res.headersSent) send(res, 400, page('Provider error', `<p class="error">${esc(err.message)}</p>`));
    else res.end();
  }
});

const shutdown = () => server.close(() => process.exit(0));
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

console.log(`OIDC-PROVIDER READY ${JSON.stringify({ issuer, port, pid: process.pid })}`);
