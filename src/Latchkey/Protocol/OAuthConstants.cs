namespace Latchkey.Protocol;

/// <summary>Error codes of the token endpoint (RFC 6749 §5.2, RFC 8628 §3.5).</summary>
public static class OAuthErrors
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidClient = "invalid_client";
    public const string InvalidGrant = "invalid_grant";
    public const string UnauthorizedClient = "unauthorized_client";
    public const string UnsupportedGrantType = "unsupported_grant_type";
    public const string InvalidScope = "invalid_scope";
    /// <summary>Registered by RFC 8628 for the token endpoint: the client must wait before trying again.</summary>
    public const string SlowDown = "slow_down";
    public const string TemporarilyUnavailable = "temporarily_unavailable";
}

/// <summary>Error codes of a bearer token challenge (RFC 6750 §3.1).</summary>
public static class BearerErrors
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidToken = "invalid_token";
    public const string InsufficientScope = "insufficient_scope";
}

/// <summary>Grant types (RFC 6749 §4).</summary>
public static class GrantTypes
{
    public const string Password = "password";
    public const string ClientCredentials = "client_credentials";
    public const string RefreshToken = "refresh_token";
    public const string AuthorizationCode = "authorization_code";
}

/// <summary>Token request parameter names (RFC 6749 Appendix A).</summary>
public static class OAuthParameters
{
    public const string GrantType = "grant_type";
    public const string Username = "username";
    public const string Password = "password";
    public const string Scope = "scope";
    public const string ClientId = "client_id";
    public const string ClientSecret = "client_secret";
    public const string RefreshToken = "refresh_token";
    public const string Code = "code";
    public const string RedirectUri = "redirect_uri";
    public const string CodeVerifier = "code_verifier";
}

/// <summary>Claim names Latchkey writes into access tokens (RFC 7519 §4.1, RFC 9068 §2.2).</summary>
public static class LatchkeyClaims
{
    public const string Issuer = "iss";
    public const string Subject = "sub";
    public const string Audience = "aud";
    public const string Expires = "exp";
    public const string IssuedAt = "iat";
    public const string JwtId = "jti";
    public const string Role = "role";
    public const string Scope = "scope";
    public const string ClientId = "client_id";
    public const string PreferredUsername = "preferred_username";

    /// <summary>
    /// The login the token came from (its refresh-token family), as OpenID Connect names a session id. Revoking the login
    /// (logout through <c>/revoke</c>, refresh-token reuse) makes Latchkey refuse every access token that carries it.
    /// </summary>
    public const string SessionId = "sid";

    /// <summary>OpenID Connect id token claims (Core §2, §3.1.3.6).</summary>
    public const string AuthTime = "auth_time";
    public const string Nonce = "nonce";
    public const string AccessTokenHash = "at_hash";
    public const string Name = "name";
    public const string Email = "email";
    public const string EmailVerified = "email_verified";

    /// <summary>How the user signed in (RFC 8176), and the level that reaches (Core §2; RFC 9068 §2.2.1 for access tokens).</summary>
    public const string AuthenticationMethods = "amr";
    public const string AuthenticationContext = "acr";
}
