// The peer of `make bench`: node-oidc-provider configured like our IdP (docs/performance.md).
//
//   node provider.js CONFIG.json
//
// CONFIG (written by bench/compare/peer.py): issuer, port, workers, redis {url, prefix},
// clients, citizen {account_id, username, password, claims}, argon2 {timeCost, memoryCost,
// parallelism}, ttl {...}, resource {indicator, scope}.
//
// The primary process makes the signing keys (RSA 2048 for RS256 ID tokens, EC P-256 for ES256
// JWT access tokens) and the cookie keys, hashes the citizen's password once with argon2id and
// stores the account in Redis, then forks `workers` processes (node:cluster) sharing the port.
// Every worker keeps all provider state in Redis (redis_adapter.js), so a code, session,
// interaction or token issued by one is honoured by the other.
//
// The sign-in is our own interaction (devInteractions off):
//   GET  /interaction/:uid          a minimal form (login or consent)
//   POST /interaction/:uid/login    username + password, argon2id verification, finish login
//   POST /interaction/:uid/confirm  grant the requested scopes, finish consent

import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import argon2 from 'argon2';
import Provider from 'oidc-provider';

import { redisAdapter } from './redis_adapter.js';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ACCOUNT_BY_USERNAME = 'account:username:';
const ACCOUNT_BY_ID = 'account:id:';

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rs-${randomUUID().slice(0, 8)}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `es-${randomUUID().slice(0, 8)}`, alg: 'ES256', use: 'sig' },
  ];
}

async function primary() {
  const { client } = redisAdapter(config.redis.url, config.redis.prefix);
  const { citizen, argon2: params } = config;
  const hash = await argon2.hash(citizen.password, { type: argon2.argon2id, ...params });
  const account = JSON.stringify({ accountId: citizen.account_id, hash, claims: citizen.claims });
  await client.set(ACCOUNT_BY_USERNAME + citizen.username, account);
  await client.set(ACCOUNT_BY_ID + citizen.account_id, account);
  await client.quit();

  const env = {
    PEER_JWKS: JSON.stringify({ keys: signingKeys() }),
    PEER_COOKIE_KEYS: JSON.stringify([randomBytes(32).toString('base64url')]),
  };
  let stopping = false;
  for (let i = 0; i < config.workers; i += 1) {
    cluster.fork(env);
  }
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} died (${signal || code}): stopping the peer`);
      shutdown(1);
    }
  });
  const shutdown = (code) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) {
      worker.process.kill('SIGTERM');
    }
    setTimeout(() => process.exit(code), 200).unref();
  };
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  console.log(`peer primary ${process.pid}: ${config.workers} workers on ${config.issuer}`);
}

function providerConfiguration(adapter, redis) {
  const { resource, ttl } = config;
  const serviceClients = new Set(
    config.clients.filter((c) => c.grant_types.includes('client_credentials')).map((c) => c.client_id),
  );
  return {
    adapter,
    clients: config.clients,
    jwks: JSON.parse(process.env.PEER_JWKS),
    cookies: { keys: JSON.parse(process.env.PEER_COOKIE_KEYS) },
    async findAccount(ctx, sub) {
      const found = await redis.get(ACCOUNT_BY_ID + sub);
      if (!found) return undefined;
      const { claims } = JSON.parse(found);
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'gender', 'birthdate'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'phone'],
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { methods: ['S256'], required: () => true },
    rotateRefreshToken: true,
    // Ours issues refresh tokens to a client of a refresh-token channel whenever the scope
    // asks for offline_access; node-oidc-provider drops offline_access unless prompt=consent
    // is sent too (OIDC Core 11 allows either), so the rule is restated here.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // As ours: a service client (a resource server) may introspect any token, any other
        // client only the tokens issued to it.
        allowedPolicy: async (ctx, client, token) => serviceClients.has(client.clientId)
          || token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // client_credentials of a service client always targets the API (JWT access token);
        // an authorization request names it with resource=, and its grant keeps it.
        defaultResource: async (ctx, client, oneOf) => {
          if (oneOf) return oneOf;
          if (ctx.oidc.route === 'token' && serviceClients.has(client.clientId)) {
            return resource.indicator;
          }
          return undefined;
        },
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: resource.scope,
          audience: resource.indicator,
          accessTokenTTL: ttl.AccessToken,
          accessTokenFormat: 'jwt', // RFC 9068
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || ttl.AccessToken,
      AuthorizationCode: ttl.AuthorizationCode,
      ClientCredentials: ttl.ClientCredentials,
      IdToken: ttl.IdToken,
      RefreshToken: ttl.RefreshToken,
      Grant: ttl.Grant,
      Session: ttl.Session,
      Interaction: ttl.Interaction,
    },
  };
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function page(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html><body>${body}</body></html>`);
}

function interactionRoutes(provider, redis) {
  async function login(req, res, uid) {
    const form = await readForm(req);
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid || details.prompt.name !== 'login') {
      return page(res, 400, 'not a sign-in interaction');
    }
    const username = (form.get('username') || '').trim().slice(0, 64);
    const password = (form.get('password') || '').slice(0, 256);
    const found = username && await redis.get(ACCOUNT_BY_USERNAME + username);
    if (!found) {
      return page(res, 401, 'wrong username or password');
    }
    const { accountId, hash } = JSON.parse(found);
    if (!await argon2.verify(hash, password)) {
      return page(res, 401, 'wrong username or password');
    }
    return provider.interactionFinished(req, res, { login: { accountId } }, {
      mergeWithLastSubmission: false,
    });
  }

  async function confirm(req, res, uid) {
    await readForm(req);
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (details.uid !== uid || prompt.name !== 'consent') {
      return page(res, 400, 'not a consent interaction');
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
  }

  async function show(req, res, uid) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      return page(res, 200, `<form method="post" action="/interaction/${uid}/login">`
        + '<input name="username"><input name="password" type="password">'
        + '<button>Sign in</button></form>');
    }
    return page(res, 200, `<form method="post" action="/interaction/${uid}/confirm">`
      + `<p>Allow ${details.params.client_id}: ${details.params.scope}</p>`
      + '<button name="decision" value="allow">Allow</button></form>');
  }

  return async (req, res) => {
    const match = /^\/interaction\/([\w-]+)(\/login|\/confirm)?$/.exec(req.url.split('?')[0]);
    if (!match) return page(res, 404, 'not found');
    const [, uid, action] = match;
    if (req.method === 'GET' && !action) return show(req, res, uid);
    if (req.method === 'POST' && action === '/login') return login(req, res, uid);
    if (req.method === 'POST' && action === '/confirm') return confirm(req, res, uid);
    return page(res, 405, 'method not allowed');
  };
}

function worker() {
  const { RedisAdapter, client: redis } = redisAdapter(config.redis.url, config.redis.prefix);
  const provider = new Provider(config.issuer, providerConfiguration(RedisAdapter, redis));
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  const oidc = provider.callback();
  const interactions = interactionRoutes(provider, redis);
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    if (req.url.startsWith('/interaction/')) {
      interactions(req, res).catch((error) => {
        console.error('interaction error', error);
        if (!res.headersSent) page(res, 400, 'interaction failed');
      });
      return;
    }
    oidc(req, res);
  });
  server.keepAliveTimeout = 65000;
  server.listen(config.port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    redis.quit().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}

if (cluster.isPrimary) {
  primary().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  worker();
}
