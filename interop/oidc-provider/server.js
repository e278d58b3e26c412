// panva/oidc-provider, a certified OpenID provider written by others,
// configured as a deployment of it would be for the venue API:
//
//   - two resource servers (RFC 8707 resource indicators) for the venue
//     API: one issues RFC 9068 JWT access tokens (typ at+jwt, client_id, no
//     azp), the other opaque access tokens, answered at RFC 7662
//     introspection;
//   - two first-party clients of the venue (authorization code with PKCE,
//     refresh tokens rotated at every use), one per resource. Two settings
//     stand in for what the venue does not send: it names its API with
//     Auth0's `audience`, which RFC 8707 providers ignore, so a client that
//     names no resource gets its own (defaultResource, useGrantedResource);
//     and it asks offline_access without prompt=consent, so its clients
//     get refresh tokens by issueRefreshToken;
//   - a machine client (client_credentials with `resource`);
//   - introspection (for the venue's clients only) and revocation, both with
//     client authentication;
//   - one test user, logged in and consenting through a small JSON
//     interaction API (below) that a script drives like a browser: the
//     login checks the user's password, the consent grants what the client
//     asked, and oidc-provider does the rest;
//   - one test fixture: a resource indicator whose JWT access tokens the
//     provider signs already expired (iat 10 minutes back, exp 5), for the
//     venue API's audience and for the machine client only, so that a run
//     can show a genuinely signed but expired token refused without waiting
//     out a lifetime and the venue's leeway.
//
// Loopback only. Usage:
//
//   node server.js --callback-jwt URL --callback-opaque URL [--issuer URL]
//
// The callbacks are the redirect URIs of the two venue clients (the venue's
// /auth/callback). The server listens on a free loopback port; the issuer is
// that address unless --issuer names another (a proxy in front of it, which
// must keep the Host header). It prints one JSON line on stdout,
// {"ready": {...}}, with the address it listens on, the issuer, resources,
// clients (secrets are random per run) and the user; then it logs the
// provider's events one per line, and serves until SIGTERM or SIGINT.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'callback-jwt': { type: 'string' },
    'callback-opaque': { type: 'string' },
    issuer: { type: 'string' },
  },
});
for (const name of ['callback-jwt', 'callback-opaque']) {
  if (!args[name]) {
    console.error(`server.js: --${name} is required`);
    process.exit(2);
  }
}

const secret = () => crypto.randomBytes(24).toString('base64url');

// The venue API under two identifiers, one per access-token format.
const resources = {
  jwt: 'https://api.venues.example/jwt',
  opaque: 'https://api.venues.example/opaque',
  expiredFixture: 'https://api.venues.example/jwt-born-expired',
};
const apiScope = 'read:venues book:venues read:datasets';
const machineScope = 'read:venues book:venues';

const clients = {
  jwt: { client_id: 'venue-app', client_secret: secret(), resource: resources.jwt, redirect_uri: args['callback-jwt'] },
  opaque: { client_id: 'venue-app-opaque', client_secret: secret(), resource: resources.opaque, redirect_uri: args['callback-opaque'] },
  machine: { client_id: 'venue-reporting', client_secret: secret() },
};
const defaultResourceOf = new Map([clients.jwt, clients.opaque].map((c) => [c.client_id, c.resource]));
// The clients that may introspect: the venue's own (a resource server).
const introspectors = new Set(defaultResourceOf.keys());

const user = { id: 'user-alice-7f3a', username: 'alice', password: secret(), name: 'Alice Example', email: 'alice@acme.example' };

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `interop-${secret().slice(0, 8)}`, use: 'sig', alg: 'RS256' };

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const listen = `127.0.0.1:${server.address().port}`;
const issuer = args.issuer ?? `http://${listen}`;

const provider = new Provider(issuer, {
  clients: [
    ...[clients.jwt, clients.opaque].map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [c.redirect_uri],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    {
      client_id: clients.machine.client_id,
      client_secret: clients.machine.client_secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [secret(), secret()] },
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  // The venue's clients are first party: they get refresh tokens without
  // asking offline_access with prompt=consent, the "other conditions"
  // OpenID Connect Core §11 allows (oidc-provider's default follows the
  // rule, and the venue does not send prompt=consent).
  issueRefreshToken: async (_ctx, client) => defaultResourceOf.has(client.clientId) && client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: 300,
    AuthorizationCode: 60,
    ClientCredentials: 300,
    Grant: 3600,
    IdToken: 300,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
  async findAccount(_ctx, id) {
    if (id !== user.id) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, name: user.name, email: user.email }) };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: async (_ctx, client) => introspectors.has(client.clientId),
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, client, oneOf) => oneOf ?? defaultResourceOf.get(client?.clientId),
      // A code exchange or refresh that names no resource gets the one
      // granted (by default, oidc-provider answers it with an access token
      // for its userinfo endpoint only when openid was asked).
      useGrantedResource: async () => true,
      // The machine client may read and book venues, not read datasets.
      getResourceServerInfo: async (_ctx, indicator, client) => {
        const scope = client?.clientId === clients.machine.client_id ? machineScope : apiScope;
        switch (indicator) {
          case resources.jwt:
            return { scope, audience: resources.jwt, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          case resources.opaque:
            return { scope, audience: resources.opaque, accessTokenTTL: 300, accessTokenFormat: 'opaque' };
          case resources.expiredFixture:
            if (client?.clientId === clients.machine.client_id) {
              return { scope, audience: resources.jwt, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
            }
            break;
          default:
        }
        throw new errors.InvalidTarget();
      },
    },
  },
  formats: {
    customizers: {
      async jwt(_ctx, token, jwt) {
        if (token.resourceServer?.identifier() === resources.expiredFixture) {
          jwt.payload.iat -= 600;
          jwt.payload.exp = jwt.payload.iat + 300;
        }
      },
    },
  },
});

// The interaction API, JSON for a scripted user agent:
//   GET  /interaction/:uid          what is asked: {uid, prompt, client_id, scope}
//   POST /interaction/:uid/login    form username, password: 303 back to the provider, or 401
//   POST /interaction/:uid/confirm  grants what the client asked: 303 back to the provider
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(ctx.path);
  if (!m) {
    await next();
    return;
  }
  const [, uid, action] = m;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
  const { prompt, params } = details;
  ctx.set('Cache-Control', 'no-store');
  let result;
  switch (`${ctx.method} ${action ?? ''}`) {
    case 'GET ':
      ctx.body = { uid, prompt: prompt.name, client_id: params.client_id, scope: params.scope };
      return;
    case 'POST login': {
      if (prompt.name !== 'login') throw new errors.InvalidRequest('not a login prompt');
      const form = new URLSearchParams(await readBody(ctx.req));
      if (!sameSecret(form.get('username'), user.username) || !sameSecret(form.get('password'), user.password)) {
        ctx.status = 401;
        ctx.body = { error: 'invalid_credentials' };
        return;
      }
      result = { login: { accountId: user.id } };
      break;
    }
    case 'POST confirm': {
      if (prompt.name !== 'consent') throw new errors.InvalidRequest('not a consent prompt');
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
      break;
    }
    default:
      ctx.status = 405;
      return;
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
});

async function readBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) throw new errors.InvalidRequest('body too large');
  }
  return body;
}

function sameSecret(got, want) {
  const a = Buffer.from(String(got ?? ''));
  const b = Buffer.from(want);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

for (const event of ['grant.success', 'grant.error', 'grant.revoked', 'introspection.error', 'revocation.error', 'server_error', 'authorization.error']) {
  provider.on(event, (...a) => {
    const err = a.find((x) => x instanceof Error);
    console.log(JSON.stringify({ event, error: err ? `${err.name}: ${err.message}${err.error_detail ? ` (${err.error_detail})` : ''}` : undefined }));
  });
}

server.on('request', provider.callback());
console.log(JSON.stringify({
  ready: {
    listen, issuer, resources, user: { username: user.username, password: user.password, id: user.id },
    clients: Object.fromEntries(Object.entries(clients).map(([k, c]) => [k, { client_id: c.client_id, client_secret: c.client_secret }])),
  },
}));

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
