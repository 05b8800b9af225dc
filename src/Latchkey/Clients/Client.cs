using Latchkey.Protocol;

namespace Latchkey.Clients;

/// <summary>An OAuth client: who is asking for tokens, which grants it may use and which scopes it may request.</summary>
public sealed record Client(string ClientId, bool IsPublic, IReadOnlyList<string> AllowedGrantTypes, IReadOnlyList<string> AllowedScopes)
{
    /// <summary>
    /// The built-in first-party client, public (no secret), used when a request names no client: the
    /// <c>curl</c> user, the seed tutorial's reader, a first-party front end. It may use the password grant only.
    /// </summary>
    public const string FirstPartyClientId = "default";

    public static Client FirstParty(LatchkeyOptions options) =>
        new(FirstPartyClientId, IsPublic: true, [GrantTypes.Password], options.Scopes);
}
