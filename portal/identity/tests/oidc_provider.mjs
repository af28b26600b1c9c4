// A real OpenID Connect provider for the tests: node-oidc-provider (panva/node-oidc-provider,
// OpenID Certified), on loopback, with its own login and consent pages (devInteractions: any
// password is taken, the login names the account).
//
//   node oidc_provider.mjs PORT CONFIG.json
//
// CONFIG holds {"clients": [...], "accounts": {"<login>": {"email", "name", "groups": [...]}},
// "tamper": "signature", "expired" or absent}.
// It is read again at every lookup, so a test changes someone's groups by rewriting the file.
import fs from 'node:fs';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const [port, configPath] = process.argv.slice(2);
const read = () => JSON.parse(fs.readFileSync(configPath, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

// The signing key, held here so that a test's fault can sign a token the provider would not issue.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'tests-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: read().clients,
  pkce: { required: () => true, methods: ['S256'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  findAccount: async (ctx, id) => {
    const account = read().accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, email_verified: true, ...account }) };
  },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['portal-tests-only'] },
});
// A fault a test asks for, on the token endpoint's ID token: "signature", one character of its
// signature changed, as a man in the middle would send it; "expired", signed by the provider's
// key but expired an hour ago.
provider.use(async (ctx, next) => {
  await next();
  const { tamper } = read();
  if (!tamper || ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
  const token = ctx.body.id_token;
  if (tamper === 'signature') {
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    ctx.body = { ...ctx.body, id_token: `${token.slice(0, -2)}${last}${token.at(-1)}` };
  } else if (tamper === 'expired') {
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...decodeJwt(token), iat: now - 7200, exp: now - 3600 })
      .setProtectedHeader(decodeProtectedHeader(token))
      .sign(privateKey);
    ctx.body = { ...ctx.body, id_token: expired };
  }
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
