using Latchkey.Protocol;
using Latchkey.Storage;

namespace Latchkey.Clients;

/// <summary>An OAuth client: who is asking for tokens, which grants it may use, which scopes it may request, and for which audience.</summary>
public sealed record Client(string ClientId, bool IsPublic, IReadOnlyList<string> AllowedGrantTypes, IReadOnlyList<string> AllowedScopes, string? Audience)
{
    /// <summary>
    /// The built-in first-party client, public (no secret), used when a request names no client: the
    /// <c>curl</c> user, the seed tutorial's reader, a first-party front end. It may use the password grant and
    /// refresh its tokens.
    /// </summary>
    public const string FirstPartyClientId = "default";

    /// <summary>The grant types a registered client may be given.</summary>
    public static readonly IReadOnlyList<string> AssignableGrantTypes = [GrantTypes.Password, GrantTypes.ClientCredentials, GrantTypes.RefreshToken];

    public bool MayUse(string grantType) => AllowedGrantTypes.Contains(grantType, StringComparer.Ordinal);

    public static Client FirstParty(LatchkeyOptions options) =>
        new(FirstPartyClientId, IsPublic: true, [GrantTypes.Password, GrantTypes.RefreshToken], options.Scopes, Audience: null);

    public static Client From(ClientRecord record) =>
        new(record.ClientId, IsPublic: false, record.GrantTypes, record.Scopes, record.Audience);
}
