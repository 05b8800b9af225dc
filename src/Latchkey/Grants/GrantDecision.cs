using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;

namespace Latchkey.Grants;

/// <summary>What a grant decided: the tokens to mint, or an OAuth error. Never both.</summary>
internal readonly record struct GrantDecision(TokenGrant? Grant, OAuthError? Error)
{
    public static implicit operator GrantDecision(TokenGrant grant) => new(grant, null);

    public static implicit operator GrantDecision(OAuthError error) => new(null, error);
}

/// <summary>
/// Tokens a grant decided to give: for whom (<paramref name="Subject"/>, the token's <c>sub</c>), through which client,
/// with which scope, and what happens to the login's refresh tokens (<paramref name="Refresh"/>).
/// </summary>
internal sealed record TokenGrant(string GrantType, Client Client, string Subject, string? Username, IReadOnlyList<string> Roles, string? Scope,
    RefreshPlan Refresh)
{
    /// <summary>When the user's login began (before the account was read); null when no user logged in (a client's own token).</summary>
    public DateTimeOffset? LoggedInAt { get; init; }

    /// <summary>The user's latest cut-off, if any: the client's record must have been read after it.</summary>
    public DateTimeOffset? UserCutOff { get; init; }

    /// <summary>
    /// How the user signed in (<see cref="Protocol.SignInMethods"/>), for a user's tokens: the access token carries the level it
    /// reaches (<c>acr</c>) and when (<c>auth_time</c>, <see cref="LoggedInAt"/>), RFC 9068 §2.2.1. Null for a client's own token.
    /// </summary>
    public IReadOnlyList<string>? Amr { get; init; }

    /// <summary>The browser sign-in session the grant came from (a code's), whose logout revokes the login's refresh tokens.</summary>
    public string? SignInSessionId { get; init; }

    /// <summary>An OpenID Connect id token to issue with the access token, when the scope has <c>openid</c>.</summary>
    public IdTokenRequest? IdToken { get; init; }

    /// <summary>Called with what was issued, once it is: a grant that must remember it (a code, to revoke it on a replay).</summary>
    public Func<IssuedTokens, CancellationToken, Task>? OnIssued { get; init; }
}

/// <summary>What an id token says about the sign-in: its session (<c>sid</c>), when (<c>auth_time</c>), and the client's <c>nonce</c>.</summary>
internal sealed record IdTokenRequest(string SessionId, DateTimeOffset AuthTime, string? Nonce)
{
    /// <summary>The user's profile, for the <c>profile</c> and <c>email</c> scopes' claims.</summary>
    public string? Name { get; init; }
    public string? Email { get; init; }
    public bool EmailVerified { get; init; }
}

/// <summary>What <see cref="TokenMint"/> issued: the login's refresh family (if any) and the access token.</summary>
internal sealed record IssuedTokens(string? FamilyId, string AccessTokenId, DateTimeOffset AccessTokenExpiresAt);

/// <summary>What a grant does with refresh tokens: none, a new login's first one, or the next one of a login being refreshed.</summary>
internal abstract record RefreshPlan
{
    /// <summary>No refresh token: a client's own token (RFC 6749 §4.4.3), or a client that may not refresh.</summary>
    public static readonly RefreshPlan None = new NoRefresh();

    /// <summary>A new login: a family starts, and its id is the access token's <c>sid</c>.</summary>
    public static readonly RefreshPlan StartLogin = new Start();

    /// <summary>A refresh: <paramref name="Presented"/> is spent, and a successor in the same login takes its place.</summary>
    public sealed record Rotate(RefreshLogin Login, string Presented) : RefreshPlan;

    private sealed record NoRefresh : RefreshPlan;

    private sealed record Start : RefreshPlan;
}
