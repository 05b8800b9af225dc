using System.Text;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Clients;

/// <summary>
/// Authenticates the client of a request to <c>/token</c>, <c>/revoke</c> or <c>/introspect</c> (RFC 6749 §2.3.1):
/// <c>client_secret_basic</c> or <c>client_secret_post</c>, never both. A request that names no client is the
/// built-in public first-party client.
/// </summary>
internal sealed class ClientAuthenticator(CachingClientStore clients, IOptions<LatchkeyOptions> options)
{
    // Compared against when the client does not exist, so unknown and known clients take the same time.
    private static readonly string DummyHash = ClientSecrets.Hash(ClientSecrets.Generate());

    private readonly Client _firstParty = Client.FirstParty(options.Value);

    public async Task<(Client? Client, OAuthError? Error)> AuthenticateAsync(
        string? bodyClientId, string? bodySecret, string? authorizationHeader, CancellationToken cancellationToken)
    {
        string? clientId = bodyClientId;
        string? secret = bodySecret;
        bool viaHeader = !string.IsNullOrEmpty(authorizationHeader);

        if (viaHeader)
        {
            if (bodySecret is not null)
                return (null, OAuthError.InvalidRequest("Use one client authentication method, not both (RFC 6749 §2.3)."));
            if (!TryParseBasic(authorizationHeader!, formUrlEncoded: true, out string? headerId, out secret))
                return (null, InvalidClient("the Authorization header is not valid HTTP Basic client authentication", challenge: true));
            if (bodyClientId is not null && bodyClientId != headerId)
                return (null, OAuthError.InvalidRequest("The client_id parameter does not match the authenticated client."));
            clientId = headerId;
        }

        if (clientId is null or Client.FirstPartyClientId)
        {
            // A public client has no secret; one that sends a secret is confused or probing.
            if (!string.IsNullOrEmpty(secret))
                return (null, InvalidClient("a secret was sent for the public first-party client", viaHeader));
            // Its row says only whether an admin disabled it (read through the client cache, like any client's).
            (ClientRecord? row, DateTimeOffset rowReadAt) = await clients.FindWithReadTimeAsync(Client.FirstPartyClientId, cancellationToken);
            if (row is { Disabled: true })
                return (null, InvalidClient("the first-party client is disabled", viaHeader));
            return (_firstParty with { ReadAt = rowReadAt }, null);
        }

        (ClientRecord? record, DateTimeOffset readAt) = await clients.FindWithReadTimeAsync(clientId, cancellationToken);
        if (record is { IsPublic: true })
        {
            // A registered public client (a browser or native app, RFC 6749 §2.1): it has no secret, and proves itself with PKCE.
            if (!string.IsNullOrEmpty(secret))
                return (null, InvalidClient($"a secret was sent for public client '{clientId}'", viaHeader));
            if (record.Disabled)
                return (null, InvalidClient($"client '{clientId}' is disabled", viaHeader));
            return (Client.From(record, readAt), null);
        }

        bool secretMatches = ClientSecrets.Verify(secret ?? "", record?.SecretHash ?? DummyHash);
        if (record is null)
            return (null, InvalidClient($"unknown client '{clientId}'", viaHeader));
        if (string.IsNullOrEmpty(secret))
            return (null, InvalidClient($"client '{clientId}' sent no secret", viaHeader));
        if (!secretMatches)
            return (null, InvalidClient($"wrong secret for client '{clientId}'", viaHeader));
        if (record.Disabled)
            return (null, InvalidClient($"client '{clientId}' is disabled", viaHeader));
        return (Client.From(record, readAt), null);
    }

    /// <summary>
    /// A registered client by its id, for the authorization endpoint, where a client is named but not authenticated (the browser
    /// carries the request): disabled ones included, so that the endpoint can refuse them; null for an unknown id and for the
    /// built-in first-party client, which has no redirect URIs.
    /// </summary>
    public async Task<Client?> FindRegisteredAsync(string clientId, CancellationToken cancellationToken)
    {
        if (clientId == Client.FirstPartyClientId)
            return null;
        (ClientRecord? record, DateTimeOffset readAt) = await clients.FindWithReadTimeAsync(clientId, cancellationToken);
        return record is null ? null : Client.From(record, readAt);
    }

    /// <summary>
    /// The client again, from a record read after <paramref name="readAfter"/>, or null when it is gone or disabled. A token
    /// is as good as the older of its login and its client's record: after a user's cut-off, their new login must not
    /// rest on a client record cached before it, or the token would look as old as the cut-off.
    /// </summary>
    public async Task<Client?> ConfirmAsync(Client client, DateTimeOffset readAfter, CancellationToken cancellationToken)
    {
        // In whole milliseconds, as cut-offs and the times in tokens are kept.
        if (client.ReadAt.ToUnixTimeMilliseconds() > readAfter.ToUnixTimeMilliseconds())
            return client;
        (ClientRecord? record, DateTimeOffset readAt) = await clients.FindWithReadTimeAsync(client.ClientId, cancellationToken, readAfter);
        if (record is null || record.Disabled)
            return null;
        return client.ClientId == Client.FirstPartyClientId ? client with { ReadAt = readAt } : Client.From(record, readAt);
    }

    /// <summary>
    /// True while the client exists, is enabled and may still request <paramref name="scope"/> (the first-party client may request
    /// every scope it has): for a token that is only as good as its client's standing, such as an admin token at each use.
    /// </summary>
    public async Task<bool> MayStillRequestAsync(string clientId, string scope, CancellationToken cancellationToken)
    {
        ClientRecord? client = (await clients.FindWithReadTimeAsync(clientId, cancellationToken)).Client;
        return client is { Disabled: false } && (client.ClientId == Client.FirstPartyClientId ? _firstParty.AllowedScopes.Contains(scope) : client.Scopes.Contains(scope));
    }

    public static OAuthError InvalidClient(string detail, bool challenge) =>
        new(OAuthErrors.InvalidClient, "Client authentication failed.", StatusCodes.Status401Unauthorized)
        {
            Detail = detail,
            ChallengeBasic = challenge,
        };

    /// <summary>
    /// Parses HTTP Basic credentials (RFC 7617, UTF-8). Client credentials are additionally form-urlencoded
    /// (RFC 6749 §2.3.1); user credentials on <c>GET /token</c> are not.
    /// </summary>
    internal static bool TryParseBasic(string header, bool formUrlEncoded, out string? user, out string? password)
    {
        user = password = null;
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return false;
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (Exception e) when (e is FormatException or DecoderFallbackException)
        {
            return false;
        }

        int colon = decoded.IndexOf(':');
        if (colon <= 0)
            return false;
        user = decoded[..colon];
        password = decoded[(colon + 1)..];
        if (formUrlEncoded)
        {
            user = Uri.UnescapeDataString(user.Replace('+', ' '));
            password = Uri.UnescapeDataString(password.Replace('+', ' '));
        }

        return true;
    }
}
