using Latchkey.Storage;

namespace Latchkey.Clients;

/// <summary>
/// A client as it is registered, for the admin API and <c>latchkey clients</c>: never its secret's hash. The built-in
/// first-party client shows its grants and scopes as the configuration gives them.
/// </summary>
public sealed record ClientRegistration(string ClientId, IReadOnlyList<string> GrantTypes, IReadOnlyList<string> Scopes, string? Audience, bool Disabled,
    DateTimeOffset CreatedAt, string? Introspection, bool IsPublic)
{
    public IReadOnlyList<string> RedirectUris { get; init; } = [];
    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];
    public bool FirstParty { get; init; }

    /// <summary>The algorithm of its id tokens: RS256 unless it registered the access tokens' one.</summary>
    public string IdTokenSignedResponseAlg { get; init; } = Keys.SigningKeyRing.IdTokenAlgorithm;

    /// <summary>Its users must sign in with two factors.</summary>
    public bool RequireMfa { get; init; }

    internal static ClientRegistration From(ClientRecord c) =>
        new(c.ClientId, c.GrantTypes, c.Scopes, c.Audience, c.Disabled, c.CreatedAt, c.Introspection, c.IsPublic)
        {
            RedirectUris = c.RedirectUris,
            PostLogoutRedirectUris = c.PostLogoutRedirectUris,
            FirstParty = c.FirstParty,
            IdTokenSignedResponseAlg = c.IdTokenSignedResponseAlg ?? Keys.SigningKeyRing.IdTokenAlgorithm,
            RequireMfa = c.RequireMfa,
        };
}
