// oidc-provider (OpenID Certified) as an independent, real OAuth 2.0 authorization server for
// agentcore-rotator's tests: client_credentials grant only, in-memory storage, loopback only.
//
// Usage:
//   node server.mjs [--clients '<json array>'] [--scopes 'api:read api:write']
// or the environment variables OIDC_CLIENTS (JSON array) and OIDC_SCOPES (space-separated);
// command-line options win. Each client is
//   {"client_id": "...", "client_secret": "...",
//    "token_endpoint_auth_method": "client_secret_basic" | "client_secret_post"}
// and may carry "scope" (space-separated, defaults to every configured scope).
//
// Protocol with the parent process: listens on 127.0.0.1 on an OS-chosen port, then prints
// exactly one JSON line on stdout, {"issuer": "http://127.0.0.1:N", "port": N,
// "token_endpoint": "..."} (token_endpoint as read back from its own discovery document), and
// nothing else ever goes to stdout. It exits when its stdin closes, so it never outlives the
// process that started it. Diagnostics (including oidc-provider's development-mode notices)
// go to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

// oidc-provider prints its NOTICEs with console.info, i.e. to stdout, which is reserved for the
// ready line. Route all console output to stderr before the library is loaded (it warns at
// import time, hence the dynamic import below).
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const fail = (message) => {
  process.stderr.write(`oidc server: ${message}\n`);
  process.exit(2);
};

const { values: args } = parseArgs({
  options: { clients: { type: 'string' }, scopes: { type: 'string' } },
  strict: true,
});

let clientsInput;
try {
  clientsInput = JSON.parse(args.clients ?? process.env.OIDC_CLIENTS ?? '[]');
} catch (err) {
  fail(`clients are not valid JSON: ${err.message}`);
}
if (!Array.isArray(clientsInput)) fail('clients must be a JSON array');

const scopes = (args.scopes ?? process.env.OIDC_SCOPES ?? 'api:read')
  .split(' ')
  .filter(Boolean);

const AUTH_METHODS = new Set(['client_secret_basic', 'client_secret_post']);
const clients = clientsInput.map((c, i) => {
  if (typeof c?.client_id !== 'string' || typeof c?.client_secret !== 'string') {
    fail(`clients[${i}] needs string client_id and client_secret`);
  }
  const method = c.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.has(method)) fail(`clients[${i}]: unsupported auth method ${method}`);
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    token_endpoint_auth_method: method,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: c.scope ?? scopes.join(' '),
  };
});

const { default: Provider } = await import('oidc-provider');

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
// An http:// issuer is only acceptable because it is a loopback address that nothing else sees.
const issuer = `http://127.0.0.1:${port}`;

// A throwaway signing key per run, so the library's published development keys are not used
// (nothing is signed with it in the client_credentials flow: access tokens are opaque).
// P-256 rather than RSA: generating it is instant, and a test run may start many servers.
const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  // No `adapter`: oidc-provider's in-memory adapter (it warns about that on stderr).
  clients,
  scopes,
  // Only the shared-secret methods our token probe speaks; also what discovery advertises.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  jwks: { keys: [{ ...signingKey, kid: 'testkit', use: 'sig', alg: 'ES256' }] },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
  },
  // There are no end-users: client_credentials never looks an account up.
  findAccount: async () => undefined,
  ttl: { ClientCredentials: 600 },
});

provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc server: server_error on ${ctx.method} ${ctx.path}: ${err.stack}\n`);
});

server.on('request', provider.callback());

// Read the token endpoint back from the discovery document: proves the provider answers before
// the parent is told it is ready.
const discovery = await fetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.json());

process.stdout.write(
  `${JSON.stringify({ issuer, port, token_endpoint: discovery.token_endpoint })}\n`,
);

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
