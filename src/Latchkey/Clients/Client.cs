using Latchkey.Protocol;
using Latchkey.Storage;

namespace Latchkey.Clients;

/// <summary>
/// An OAuth client: who is asking for tokens, which grants it may use, which scopes it may request, for which audience, and
/// whether it may introspect tokens (<see cref="IntrospectionPermission"/>).
/// </summary>
public sealed record Client(string ClientId, bool IsPublic, IReadOnlyList<string> AllowedGrantTypes, IReadOnlyList<string> AllowedScopes, string? Audience,
    string? Introspection = null)
{
    /// <summary>Where the authorization endpoint may send the browser back (exact strings; RFC 9700 §4.1.3).</summary>
    public IReadOnlyList<string> RedirectUris { get; init; } = [];

    /// <summary>Where the end-session endpoint may send the browser after logout (exact strings).</summary>
    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];

    /// <summary>The operator's own app: its users are not asked to consent.</summary>
    public bool IsFirstParty { get; init; }

    /// <summary>The algorithm this client registered for its id tokens; null: RS256 (<see cref="Keys.SigningKeyRing.IdTokenAlgorithm"/>).</summary>
    public string? IdTokenAlgorithm { get; init; }

    /// <summary>The client's users must sign in with two factors: one without a second factor is taken through setting one up.</summary>
    public bool RequireMfa { get; init; }

    /// <summary>Disabled clients are found (so that the authorization endpoint can say so) but never authenticated.</summary>
    public bool Disabled { get; init; }

    /// <summary>
    /// When this client's record was read from the database (from the cache, the time it was read into it): tokens minted
    /// for it carry no more authority than the record had then, so a cut-off of the client after it refuses them.
    /// </summary>
    public DateTimeOffset ReadAt { get; init; } = DateTimeOffset.MaxValue;

    /// <summary>
    /// The built-in first-party client, public (no secret), used when a request names no client: the
    /// <c>curl</c> user, the seed tutorial's reader, a first-party front end. It may use the password grant (unless
    /// <see cref="PasswordGrantOptions.Enabled"/> is off) and refresh its tokens, with the configured scopes and the admin
    /// scope. It can be disabled like any other client (<c>latchkey clients disable default</c>).
    /// </summary>
    public const string FirstPartyClientId = "default";

    /// <summary>The grant types a registered client may be given.</summary>
    public static readonly IReadOnlyList<string> AssignableGrantTypes =
        [GrantTypes.AuthorizationCode, GrantTypes.Password, GrantTypes.ClientCredentials, GrantTypes.RefreshToken];

    public bool MayUse(string grantType) => AllowedGrantTypes.Contains(grantType, StringComparer.Ordinal);

    /// <summary>True when this client may call <c>/introspect</c> (RFC 7662 §2.1: the endpoint is protected; here, by a permission).</summary>
    public bool MayIntrospect => Introspection is not null;

    public static Client FirstParty(LatchkeyOptions options) =>
        new(FirstPartyClientId, IsPublic: true,
            options.PasswordGrant.Enabled ? [GrantTypes.Password, GrantTypes.RefreshToken] : [GrantTypes.RefreshToken],
            [.. options.Scopes.Where(s => s != Scopes.Admin), Scopes.Admin], Audience: null);

    public static Client From(ClientRecord record, DateTimeOffset readAt) =>
        new(record.ClientId, record.IsPublic, record.GrantTypes, record.Scopes, record.Audience, record.Introspection)
        {
            ReadAt = readAt,
            RedirectUris = record.RedirectUris,
            PostLogoutRedirectUris = record.PostLogoutRedirectUris,
            IsFirstParty = record.FirstParty,
            IdTokenAlgorithm = record.IdTokenSignedResponseAlg,
            RequireMfa = record.RequireMfa,
            Disabled = record.Disabled,
        };
}

/// <summary>The values of a client's introspection permission, as stored and as <c>--introspect</c> takes them.</summary>
public static class IntrospectionPermission
{
    /// <summary>Any access token Latchkey issued (a resource server checking its callers, whatever their audience).</summary>
    public const string Any = "any";

    /// <summary>Only access tokens whose audience is this client's own (its <c>--audience</c>, or the server's default).</summary>
    public const string OwnAudience = "audience";

    public static bool IsValid(string? value) => value is null or Any or OwnAudience;
}
