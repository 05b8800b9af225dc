using System.Text;
using Latchkey.Grants;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Clients;

/// <summary>
/// Identifies the client of a token request (RFC 6749 §2.3): HTTP Basic or <c>client_id</c>/<c>client_secret</c> in
/// the body, never both. Today the only client is the built-in public one; registered confidential clients
/// authenticate here too once they exist.
/// </summary>
internal sealed class ClientAuthenticator(IOptions<LatchkeyOptions> options)
{
    public (Client? Client, OAuthError? Error) Authenticate(TokenRequest request, string? authorizationHeader)
    {
        string? clientId = request.ClientId;
        string? secret = request.ClientSecret;
        bool viaHeader = !string.IsNullOrEmpty(authorizationHeader);

        if (viaHeader)
        {
            if (secret is not null)
                return (null, OAuthError.InvalidRequest("Use one client authentication method, not both (RFC 6749 §2.3)."));
            if (!TryParseBasic(authorizationHeader!, formUrlEncoded: true, out string? headerId, out secret))
                return (null, InvalidClient("The Authorization header is not valid HTTP Basic client authentication.", challenge: true));
            if (clientId is not null && clientId != headerId)
                return (null, OAuthError.InvalidRequest("The client_id parameter does not match the authenticated client."));
            clientId = headerId;
        }

        clientId ??= Client.FirstPartyClientId;
        if (clientId != Client.FirstPartyClientId)
            return (null, InvalidClient($"unknown client '{clientId}'", viaHeader));
        if (!string.IsNullOrEmpty(secret))
            // A public client has no secret; one that sends a secret is confused or probing.
            return (null, InvalidClient("a secret was sent for the public client", viaHeader));

        return (Client.FirstParty(options.Value), null);
    }

    private static OAuthError InvalidClient(string detail, bool challenge) =>
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
