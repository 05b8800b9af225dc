using System.Net;
using Latchkey.Audit;
using Latchkey.Diagnostics;
using Latchkey.Jose;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;

namespace Latchkey.Tokens;

/// <summary>
/// Token revocation as RFC 7009 has it, for either kind of token. A refresh token revokes its whole family, and with it
/// (§2.1) the access tokens of that login; an access token's <c>jti</c> is revoked until it expires. A client revokes only
/// its own tokens. What is not a live token of that client's is left alone, silently: the endpoint answers the same (§2.2).
/// </summary>
internal sealed class TokenRevocation(RefreshTokenFamilies families, AccessTokenValidator validator, Revocations revocations, AuditTrail audit,
    TimeProvider time, ILogger<TokenRevocation> logger)
{
    public async Task RevokeAsync(string token, string clientId, IPAddress? address, CancellationToken cancellationToken)
    {
        // The hint only says where to look first (§2.1); the token's shape says what it is.
        if (RefreshTokens.HasValidShape(token))
        {
            if (await families.FindAsync(token, cancellationToken) is { } login && login.ClientId == clientId &&
                await families.RevokeAsync(login, RefreshTokenFamilies.Reasons.RevokedByClient, address, cancellationToken))
            {
                Log.TokenRevoked(logger, "refresh token family " + login.FamilyId, clientId);
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.TokenRevoked, AuditOutcomes.Success, Subject: login.UserId, ClientId: clientId,
                    Address: address?.ToString(), Detail: "refresh family " + login.FamilyId), cancellationToken);
            }

            return;
        }

        System.Text.Json.JsonElement claims;
        try
        {
            // Only our own, unexpired tokens: anything else is already worthless, and must not fill the deny list.
            claims = validator.VerifyOffline(token, anyAudience: true);
        }
        catch (JwtException)
        {
            return;
        }

        if (!claims.TryGetProperty(LatchkeyClaims.ClientId, out var tokenClient) || tokenClient.GetString() != clientId)
            return;
        string jti = claims.GetProperty(LatchkeyClaims.JwtId).GetString()!;
        var expires = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty(LatchkeyClaims.Expires).GetInt64()) + JwsVerifier.Leeway;
        await revocations.RevokeAccessTokenAsync(jti, expires, cancellationToken);
        Log.TokenRevoked(logger, "access token " + jti, clientId);
        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.TokenRevoked, AuditOutcomes.Success, Subject: claims.GetProperty(LatchkeyClaims.Subject).GetString(),
            ClientId: clientId, Address: address?.ToString(), Detail: "access token " + jti), cancellationToken);
    }
}
