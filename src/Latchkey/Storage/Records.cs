namespace Latchkey.Storage;

/// <summary>
/// A user account. <see cref="Id"/> never changes and is the token's <c>sub</c>. <see cref="TokensValidAfter"/>: Latchkey
/// refuses this user's tokens issued at or before it (set by disabling, a role or password change, and logout).
/// </summary>
public sealed record UserRecord(
    string Id,
    string Username,
    string PasswordHash,
    IReadOnlyList<string> Roles,
    bool Disabled,
    DateTimeOffset CreatedAt,
    DateTimeOffset PasswordChangedAt,
    DateTimeOffset? TokensValidAfter = null)
{
    /// <summary>The user's e-mail address, if an admin gave one (OpenID Connect's <c>email</c> scope).</summary>
    public string? Email { get; init; }

    /// <summary>Whether the admin who gave <see cref="Email"/> checked that it is the user's (<c>email_verified</c>).</summary>
    public bool EmailVerified { get; init; }

    /// <summary>The user's full name, if given (OpenID Connect's <c>name</c>, with the <c>profile</c> scope).</summary>
    public string? Name { get; init; }
}

/// <summary>
/// A signing key. The private part is stored only encrypted (<see cref="ProtectedPrivateKey"/>); HMAC deployments
/// keep their access tokens' secret in configuration and store only their id-token key here. <see cref="Purpose"/> says
/// what it signs (<see cref="SigningKeyPurposes"/>); the keys of each purpose rotate on their own.
/// </summary>
public sealed record SigningKeyRecord(
    string KeyId,
    string Algorithm,
    string PublicJwk,
    byte[] ProtectedPrivateKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset ActivatesAt,
    DateTimeOffset? RetiredAt,
    DateTimeOffset? RevokedAt = null)
{
    public string Purpose { get; init; } = SigningKeyPurposes.AccessToken;
}

/// <summary>What a signing key signs.</summary>
public static class SigningKeyPurposes
{
    /// <summary>Access tokens (and, before id tokens had a key of their own, everything).</summary>
    public const string AccessToken = "access_token";

    /// <summary>OpenID Connect id tokens: an RS256 key, which every relying party can verify (OpenID Connect Core §15.1).</summary>
    public const string IdToken = "id_token";

    public static bool IsKnown(string? purpose) => purpose is AccessToken or IdToken;
}

/// <summary>
/// A client. Registered (confidential) clients keep their secret only as a hash; the built-in first-party client is
/// public (<see cref="IsPublic"/>, no secret). <see cref="Introspection"/> says whether it may call <c>/introspect</c>:
/// null (no), <c>any</c> (any token Latchkey issued) or <c>audience</c> (only tokens for its own audience).
/// </summary>
public sealed record ClientRecord(
    string ClientId,
    string SecretHash,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> Scopes,
    string? Audience,
    bool Disabled,
    DateTimeOffset CreatedAt,
    string? Introspection = null,
    bool IsPublic = false)
{
    /// <summary>Where the authorization endpoint may send this client's browser back to, compared as exact strings.</summary>
    public IReadOnlyList<string> RedirectUris { get; init; } = [];

    /// <summary>Where the end-session endpoint may send the browser after logout, compared as exact strings.</summary>
    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];

    /// <summary>A first-party client (the operator's own app): the user is not asked to consent to its scopes.</summary>
    public bool FirstParty { get; init; }

    /// <summary>The algorithm of this client's id tokens (OpenID Connect Dynamic Client Registration's name); null: RS256.</summary>
    public string? IdTokenSignedResponseAlg { get; init; }

    /// <summary>The client's users must sign in with two factors (a second factor after the password).</summary>
    public bool RequireMfa { get; init; }
}

/// <summary>Every refresh token descended from one login. Revoking it revokes them all.</summary>
public sealed record RefreshFamilyRecord(
    string FamilyId,
    string UserId,
    string ClientId,
    DateTimeOffset CreatedAt,
    DateTimeOffset AbsoluteExpiresAt,
    DateTimeOffset? RevokedAt)
{
    /// <summary>The browser sign-in session this login began in (through an authorization code); null for the password grant.</summary>
    public string? SessionId { get; init; }

    /// <summary>How the user signed in for this login (<see cref="Protocol.SignInMethods"/>, space-separated).</summary>
    public string Amr { get; init; } = "pwd";
}

/// <summary>One refresh token, by the SHA-256 of its value (the value itself is never stored).</summary>
public sealed record RefreshTokenRecord(
    string TokenHash,
    string FamilyId,
    string ClientId,
    string UserId,
    string? Scope,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? SpentAt);

/// <summary>
/// Something Latchkey's own endpoints refuse tokens for, kept until every token it can refuse has expired
/// (<paramref name="ExpiresAt"/>), and read by every node (<see cref="IRevocationStore"/>). For an access token
/// (<see cref="RevocationKinds.AccessToken"/>, by <c>jti</c>), a login (<see cref="RevocationKinds.Family"/>, by refresh
/// family id: tokens whose <c>sid</c> is it) and a key (<see cref="RevocationKinds.Key"/>, by <c>kid</c>), <paramref name="At"/>
/// is when it was revoked; for a user or a client (by id), it is the cut-off: their tokens issued at or before it are refused.
/// </summary>
public sealed record Revocation(string Kind, string Id, DateTimeOffset At, DateTimeOffset ExpiresAt)
{
    /// <summary>
    /// How long a revocation that is not of one access token is kept: the longest any access token can live (24 hours, the
    /// most <see cref="LatchkeyOptions.AccessTokenLifetime"/> allows) and the clock leeway, so that it outlives every token it
    /// refuses whatever the lifetime was when they were issued.
    /// </summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1);

    /// <summary>A revocation of a login, a user, a client or a key at <paramref name="at"/>, kept for <see cref="KeptFor"/>.</summary>
    public static Revocation Of(string kind, string id, DateTimeOffset at) => new(kind, id, at, at + KeptFor);
}

/// <summary>The kinds of <see cref="Revocation"/>, as stored.</summary>
public static class RevocationKinds
{
    public const string AccessToken = "jti";
    public const string Family = "family";
    public const string User = "user";
    public const string Client = "client";
    public const string Key = "key";
}

/// <summary>A security event, for the audit log. Never holds a password, secret or whole token.</summary>
public sealed record AuditEvent(
    DateTimeOffset At,
    string Type,
    string Outcome,
    string? Actor = null,
    string? Subject = null,
    string? ClientId = null,
    string? Address = null,
    string? Detail = null);

/// <summary>
/// A browser's sign-in: found by the SHA-256 of the secret its cookie holds (<see cref="SecretHash"/>), known to clients
/// and the audit log by <see cref="SessionId"/> (an id token's <c>sid</c>). Live until <see cref="EndedAt"/>, its absolute
/// expiry <see cref="ExpiresAt"/>, or its idle timeout after <see cref="LastUsedAt"/>.
/// </summary>
public sealed record LoginSessionRecord(
    string SessionId,
    string SecretHash,
    string UserId,
    DateTimeOffset AuthTime,
    DateTimeOffset LastUsedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? EndedAt,
    string? Address,
    string Amr = "pwd")
{
    /// <summary>The browser the session is in, as its User-Agent named it (shortened): for the user's own list of their sessions.</summary>
    public string? Device { get; init; }
}

/// <summary>
/// An authorization code (RFC 6749 §4.1.2), by the SHA-256 of its value, with everything it is bound to. Once redeemed,
/// <see cref="IssuedFamilyId"/> and <see cref="IssuedJwtId"/> say what was issued from it, for revocation on a replay.
/// </summary>
public sealed record AuthorizationCodeRecord(
    string CodeHash,
    string ClientId,
    string RedirectUri,
    string CodeChallenge,
    string? Nonce,
    string? Scope,
    string SessionId,
    string UserId,
    DateTimeOffset AuthTime,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RedeemedAt = null,
    string? IssuedFamilyId = null,
    string? IssuedJwtId = null,
    DateTimeOffset? IssuedExpiresAt = null,
    string Amr = "pwd");

/// <summary>A user's consent to a third-party client: the scopes it may have without asking again.</summary>
public sealed record ConsentRecord(string UserId, string ClientId, IReadOnlyList<string> Scopes, DateTimeOffset GrantedAt);
