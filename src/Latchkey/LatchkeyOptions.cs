namespace Latchkey;

/// <summary>
/// Everything an operator can set, bound from the <c>Latchkey</c> configuration section
/// (appsettings.json, or environment variables such as <c>LATCHKEY__ACCESSTOKENLIFETIME</c>).
/// </summary>
public sealed class LatchkeyOptions
{
    /// <summary>The configuration section these options are read from.</summary>
    public const string SectionName = "Latchkey";

    /// <summary>
    /// The issuer URL written into <c>iss</c> and published by discovery, e.g. <c>https://auth.example.com</c>.
    /// Verifiers compare it exactly, so changing it invalidates every token already issued.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The <c>aud</c> of access tokens: the API they are meant for. <c>/me</c> accepts only this audience.</summary>
    public string Audience { get; set; } = "api";

    /// <summary>
    /// How long an access token lives. Shorter limits the damage of a leaked token; longer means fewer logins.
    /// Tokens cannot be recalled once issued, so keep this short (the default is the seed tutorial's 30 minutes).
    /// </summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The algorithm access tokens are signed with. ES256 by default: asymmetric, so verifiers need only the
    /// public JWKS, never a secret. HS256/384/512 need <see cref="HmacSecret"/> and publish nothing.
    /// </summary>
    public string SigningAlgorithm { get; set; } = JwtAlgorithms.ES256;

    /// <summary>
    /// The shared secret when <see cref="SigningAlgorithm"/> is HS*: at least as many bytes as the hash
    /// (32 for HS256). Every verifier must hold it, and any of them can then mint tokens.
    /// </summary>
    public string? HmacSecret { get; set; }

    /// <summary>The folder holding <c>latchkey.db</c> and <c>master.key</c>. Created if missing.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>
    /// Where the state lives. Empty (the default): SQLite, <c>latchkey.db</c> in <see cref="DataDirectory"/>, for one node.
    /// A PostgreSQL connection string (<c>Host=db;Database=latchkey;Username=latchkey;Password=…</c>) or URL
    /// (<c>postgres://latchkey:…@db:5432/latchkey</c>): for several nodes sharing one database. With PostgreSQL every
    /// node must be given the same <see cref="MasterKey"/>. A host not on this machine is reached over TLS with its
    /// certificate and name checked (<c>SSL Mode=VerifyFull</c>) unless the connection string names another mode.
    /// </summary>
    public string? Database { get; set; }

    /// <summary>
    /// The base64 key (32 bytes) that encrypts signing keys at rest. When empty, <c>master.key</c> in
    /// <see cref="DataDirectory"/> is used, and created on first start. Lose it and the stored signing keys are unusable.
    /// </summary>
    public string? MasterKey { get; set; }

    /// <summary>
    /// How often each node re-reads the access tokens revoked through <c>/revoke</c> (on any node). A revocation is honoured
    /// at once by the node that took it, and by every other node within this interval. Between syncs, bearer checks cost
    /// no database round trip, and they keep working while the database is away.
    /// </summary>
    public TimeSpan RevocationRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a node keeps a registered client's record in memory. Disabling a client, rotating its secret or removing
    /// it through this node's admin API applies here at once; through the CLI or another node, within this time.
    /// </summary>
    public TimeSpan ClientCacheLifetime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many access tokens a node remembers as verified, so that a client presenting the same bearer token again
    /// (the usual case: one token per client for its whole lifetime) costs a lookup instead of a signature check.
    /// Only a token whose signature, header and claims were all checked is remembered, by its exact text; each reuse
    /// still checks expiry, that its signing key is still published, and the revocation list. About 2 KB per token;
    /// 0 turns it off.
    /// </summary>
    public int VerifiedTokenCacheSize { get; set; } = 4096;

    /// <summary>The scopes the built-in client may request. A request for any other scope gets <c>invalid_scope</c>.</summary>
    public List<string> Scopes { get; set; } = ["api"];

    /// <summary>Requests to <c>POST /token</c> larger than this get 413. Token requests are a few hundred bytes.</summary>
    public int MaxTokenRequestBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The reverse proxies in front of Latchkey whose <see cref="ForwardedHeader"/> is believed: addresses and CIDR networks,
    /// IPv4 or IPv6 (<c>10.0.0.5</c>, <c>10.0.0.0/8</c>, <c>2001:db8::/32</c>). Empty (the default): the client address is the
    /// TCP peer and forwarded headers are never read. Behind a proxy, list it, or every client shares the proxy's address in
    /// the login throttle, the rate limit and the audit log. List only machines you run: a listed one can claim any address.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>
    /// How many forwarded entries, from the right, are read (1 to 20). 1 (the default): one proxy, whose entry is the client.
    /// With a chain of proxies, their number: each entry is taken only while the one before it is itself a trusted proxy.
    /// </summary>
    public int ForwardLimit { get; set; } = 1;

    /// <summary>
    /// The header the proxies write: <c>X-Forwarded-For</c> (the default) or <c>Forwarded</c> (RFC 7239). Only this one is
    /// read: a proxy that appends to one passes the other through from the client unchanged.
    /// </summary>
    public string ForwardedHeader { get; set; } = "X-Forwarded-For";

    /// <summary>Signing-key rotation and publication.</summary>
    public KeyOptions Keys { get; set; } = new();

    /// <summary>Lifetimes and reuse handling of refresh tokens.</summary>
    public RefreshTokenOptions RefreshTokens { get; set; } = new();

    /// <summary>Brute-force protection of password logins (RFC 6749 §4.3.2).</summary>
    public LoginThrottleOptions LoginThrottle { get; set; } = new();

    /// <summary>A ceiling on requests per client address to <c>/token</c>, <c>/revoke</c> and <c>/introspect</c>.</summary>
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Argon2id cost of new password hashes.</summary>
    public PasswordHashingOptions PasswordHashing { get; set; } = new();

    /// <summary>The OpenAPI document and the interactive API docs.</summary>
    public DocsOptions Docs { get; set; } = new();

    /// <summary>The audit log of security events.</summary>
    public AuditOptions Audit { get; set; } = new();

    /// <summary>The resource owner password credentials grant (<c>POST /token</c> with a password, and <c>GET /token</c>).</summary>
    public PasswordGrantOptions PasswordGrant { get; set; } = new();

    /// <summary>Where <c>/metrics</c> answers.</summary>
    public MetricsOptions Metrics { get; set; } = new();

    /// <summary>Browser sign-in sessions (the hosted login page and single sign-on between apps).</summary>
    public SessionOptions Sessions { get; set; } = new();

    /// <summary>What the hosted pages call the service.</summary>
    public BrandingOptions Branding { get; set; } = new();

    /// <summary>Second factors: how recent a sign-in must be to change them.</summary>
    public MfaOptions Mfa { get; set; } = new();

    public PasskeyOptions Passkeys { get; set; } = new();
}

/// <summary>The password grant (RFC 6749 §4.3), which RFC 9700 §2.4 says must not be used, kept for first-party clients and the seed tutorial.</summary>
public sealed class PasswordGrantOptions
{
    /// <summary>
    /// True (the default): clients allowed the password grant may use it, and <c>GET /token</c> takes HTTP Basic user
    /// credentials. False: both refuse (<c>unsupported_grant_type</c>), for deployments where users sign in elsewhere.
    /// </summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>The Prometheus scrape endpoint, <c>/metrics</c>.</summary>
public sealed class MetricsOptions
{
    /// <summary>
    /// Listen addresses for <c>/metrics</c> alone, ';'-separated like <c>--urls</c>, each with its port, e.g.
    /// <c>http://127.0.0.1:9464</c>. When set, <c>/metrics</c> answers only on connections to these (told apart by the local
    /// port and, when the URL names one, the local address; never by the Host header) and 404 elsewhere, and every other
    /// endpoint answers 404 on them: the counts stay off the public listener, where anyone could read them.
    /// <c>latchkey serve</c> listens on them too; an app that embeds Latchkey must listen on them itself. Empty (the
    /// default): <c>/metrics</c> answers on every listener.
    /// </summary>
    public string? Urls { get; set; }
}

/// <summary>The audit log: logins, throttling, revocations, key and account changes.</summary>
public sealed class AuditOptions
{
    /// <summary>
    /// Events older than this are deleted (checked at most once an hour, when an event is written). Longer keeps more
    /// history for investigations, in a bigger database; it holds user names and client addresses, so keep no more than you need.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(90);
}

/// <summary><c>/openapi.json</c> and <c>/docs</c>.</summary>
public sealed class DocsOptions
{
    /// <summary>
    /// Serve the OpenAPI 3.1 document at <c>/openapi.json</c> and an interactive UI at <c>/docs</c> whose "Authorize"
    /// logs in with the password grant. They reveal nothing a client could not learn by calling the endpoints, but turn
    /// them off (<c>Latchkey:Docs:Enabled=false</c>) in production if you do not want a login form on the public internet.
    /// </summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>When signing keys change, and how that reaches verifiers without a single failed verification.</summary>
public sealed class KeyOptions
{
    /// <summary>
    /// How often a running server re-reads the keys, picking up keys added or retired by the CLI or another node.
    /// A new key signs only after this plus <see cref="JwksCacheLifetime"/>, so every verifier has seen it first.
    /// </summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long verifiers may cache the JWKS (its <c>Cache-Control: max-age</c>).</summary>
    public TimeSpan JwksCacheLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Rotate the signing key automatically when it is this old. Zero turns automatic rotation off
    /// (<c>latchkey keys rotate</c> still works). Shorter limits what a stolen key can sign.
    /// </summary>
    public TimeSpan RotationInterval { get; set; } = TimeSpan.FromDays(90);
}

/// <summary>Refresh tokens: rotated on every use (RFC 9700 §4.14.2).</summary>
public sealed class RefreshTokenOptions
{
    /// <summary>
    /// A refresh token unused for this long expires; each use issues a new one with a fresh sliding lifetime.
    /// Shorter logs idle users out sooner.
    /// </summary>
    public TimeSpan SlidingLifetime { get; set; } = TimeSpan.FromDays(14);

    /// <summary>No token of a family (one login) outlives this, however often it is refreshed: then the user logs in again.</summary>
    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// For this long after a refresh token is spent, the same client presenting it again gets the very same new pair
    /// (two tabs refreshing at once both stay logged in). After it, presenting it again is reuse: the whole family is
    /// revoked. Zero turns the grace off: any second presentation is reuse. Longer widens the window in which a thief
    /// racing the user goes unnoticed.
    /// </summary>
    public TimeSpan ReuseWindow { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// When password logins start being refused with 429 (RFC 6749 §4.3.2), built so that an attacker cannot turn the
/// throttle against the account's owner: guesses from one address lock that address's attempts at that username only, and
/// guesses spread over many addresses lock the username everywhere except where its owner logged in before.
/// </summary>
public sealed class LoginThrottleOptions
{
    /// <summary>
    /// Consecutive failures for one username from one client address (IPv6: its /64) before that pair is locked, for
    /// <see cref="Lockout"/>, doubling with each further failure up to <see cref="MaxLockout"/>; a successful login from that
    /// address resets it. Logins to the same username from other addresses go on.
    /// </summary>
    public int FailureThreshold { get; set; } = 10;

    /// <summary>The first lock of a username at one address.</summary>
    public TimeSpan Lockout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest lock of a username at one address.</summary>
    public TimeSpan MaxLockout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Failures for one username from all addresses within <see cref="UsernameWindow"/> before that username is locked for
    /// every address except those it logged in from successfully within <see cref="KnownAddressLifetime"/>: a guesser who
    /// changes address at every attempt is stopped, and the owner still gets in from home or the office.
    /// </summary>
    public int UsernameFailureThreshold { get; set; } = 50;

    /// <summary>The sliding window of <see cref="UsernameFailureThreshold"/>.</summary>
    public TimeSpan UsernameWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long an address a user logged in from keeps letting them in while their username is locked elsewhere.</summary>
    public TimeSpan KnownAddressLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Failures from one client address (IPv6: its /64), for any username, within <see cref="AddressWindow"/> before that
    /// address is refused. Far above the per-user threshold, so one attacked account does not lock out an office behind one NAT.
    /// </summary>
    public int AddressFailureThreshold { get; set; } = 100;

    /// <summary>The sliding window for <see cref="AddressFailureThreshold"/>.</summary>
    public TimeSpan AddressWindow { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>The request rate limit per client address (IPv6: its /64), answered with 429 <c>slow_down</c> and <c>Retry-After</c>.</summary>
public sealed class RateLimitOptions
{
    /// <summary>
    /// Requests one address may send to <c>/token</c>, <c>/revoke</c>, <c>/introspect</c> and the sign-in pages (<c>/authorize</c>, <c>/logout</c>) in a minute (a fixed window).
    /// Counted per node. The default, 6000 (100 a second), is far above any real client; lower it to slow down a client that
    /// guesses client secrets or probes tokens, but remember that an office or a NAT gateway is one address. 0 turns it off.
    /// </summary>
    public int PermitsPerMinute { get; set; } = 6000;
}

/// <summary>Argon2id parameters for new hashes. Existing hashes keep theirs and are upgraded at the next login.</summary>
public sealed class PasswordHashingOptions
{
    /// <summary>Memory in KiB. OWASP's minimum is 19 MiB (19456 KiB) with 2 passes.</summary>
    public int MemoryKiB { get; set; } = 19 * 1024;

    /// <summary>Passes over the memory.</summary>
    public int Iterations { get; set; } = 2;

    /// <summary>Hashes computed at once; 0 (the default) means one per core. More only adds waiting and memory.</summary>
    public int MaxConcurrency { get; set; }

    /// <summary>
    /// Logins that may wait for a hashing slot beyond those running; -1 (the default) means 4 per slot. Further logins
    /// are refused at once with 503 <c>temporarily_unavailable</c> and <c>Retry-After</c>, so a flood of logins cannot
    /// make every other request wait.
    /// </summary>
    public int MaxQueue { get; set; } = -1;

    /// <summary>The longest a login waits for a hashing slot before it is refused the same way.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// True (the default): on Linux, hashes run at the idle priority (<c>SCHED_IDLE</c>), so any other request takes the
    /// core from a hash at once; a core kept fully busy by other requests leaves logins waiting until it has time to
    /// spare. False: hashes run at nice 10, so logins keep about a tenth of a busy core, but a request arriving during a
    /// hash may wait for the next scheduler tick (up to 4 ms at 250 Hz) first.
    /// </summary>
    public bool IdlePriority { get; set; } = true;
}

/// <summary>
/// Browser sign-in sessions. A session ends after <see cref="IdleTimeout"/> without use, and at the latest
/// <see cref="AbsoluteLifetime"/> after the login, whatever its use (the defaults are Keycloak's: 30 minutes and 10 hours).
/// Refresh tokens an app got in a session are not ended by its timeouts, only by logout.
/// </summary>
public sealed class SessionOptions
{
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromHours(10);
}

/// <summary>Second factors (an authenticator app, recovery codes).</summary>
public sealed class MfaOptions
{
    /// <summary>
    /// How recent the sign-in must be to add or remove a factor, or make new recovery codes (NIST SP 800-63B §6.1.2.3): an
    /// older session signs in again first, so a browser left open is not enough to take over an account's factors.
    /// </summary>
    public TimeSpan FreshLoginWindow { get; set; } = TimeSpan.FromMinutes(5);

    public const string RequireNone = "none";
    public const string RequireAdmins = "admins";
    public const string RequireEveryone = "everyone";

    /// <summary>
    /// Who must sign in with two factors: <c>none</c> (the default; each user chooses), <c>admins</c> (users with the admin
    /// role) or <c>everyone</c>. A client can require it of its own users too (<c>--require-mfa</c>). A user who must and has
    /// no second factor sets one up at their next browser sign-in; the password grant refuses them.
    /// </summary>
    public string Require { get; set; } = RequireNone;
}

/// <summary>
/// Passkeys (WebAuthn). By default the relying party is the issuer's host and the one origin the issuer's: a passkey made for
/// it works on no other site. A deployment that serves its pages under another name than its issuer says which here.
/// </summary>
public sealed class PasskeyOptions
{
    /// <summary>The relying party id (WebAuthn §5.1.2): a host name, the issuer's or a registrable suffix of it. Default: the issuer's host.</summary>
    public string? RelyingPartyId { get; set; }

    /// <summary>The origins (<c>scheme://host[:port]</c>) the login page is served from. Default: the issuer's origin alone.</summary>
    public List<string> Origins { get; set; } = [];
}

/// <summary>The product name on the login, consent, logout and error pages.</summary>
public sealed class BrandingOptions
{
    public string Name { get; set; } = "Latchkey";
}
