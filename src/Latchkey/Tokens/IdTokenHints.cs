using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>Who an id token given back as a hint names: the user (<c>sub</c>), the client (<c>aud</c>) and the sign-in session (<c>sid</c>).</summary>
public sealed record IdTokenHint(string Subject, string ClientId, string? SessionId);

/// <summary>
/// Reads the <c>id_token_hint</c> of a logout (OpenID Connect RP-Initiated Logout 1.0 §2): an id token Latchkey signed
/// (signature, issuer, <c>typ: JWT</c>, a published key of the token's algorithm), expired or not, since an app often asks
/// for logout after its id token has expired (§4: such hints SHOULD be accepted). Anything else, tampered or forged, is null.
/// </summary>
internal sealed class IdTokenHints(SigningKeyRing keys, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public IdTokenHint? Read(string token)
    {
        LatchkeyOptions o = options.Value;
        var decodeOptions = new JwtDecodeOptions
        {
            Issuer = o.Issuer,
            IgnoreAudience = true,
            RequiredClaims = [LatchkeyClaims.Subject, LatchkeyClaims.Audience],
            // Expired hints are accepted for as long as a sign-in session can last.
            Leeway = o.Sessions.AbsoluteLifetime + JwsVerifier.Leeway,
            TimeProvider = time,
        };
        try
        {
            using ParsedJws jws = JwsVerifier.ReadAndVerify(token, ResolveKey, JwtAlgorithms.Supported, decodeOptions, rejectEmbeddedKeys: true);
            JsonElement claims = jws.Claims;
            if (claims.GetProperty(LatchkeyClaims.Audience) is not { ValueKind: JsonValueKind.String } audience ||
                claims.GetProperty(LatchkeyClaims.Subject) is not { ValueKind: JsonValueKind.String } subject)
                return null;
            string? sessionId = claims.TryGetProperty(LatchkeyClaims.SessionId, out JsonElement sid) && sid.ValueKind == JsonValueKind.String ? sid.GetString() : null;
            return new IdTokenHint(subject.GetString()!, audience.GetString()!, sessionId);
        }
        catch (JwtException)
        {
            return null;
        }
    }

    private JwsKey? ResolveKey(ParsedJws jws)
    {
        // Only our id tokens: an access token (at+jwt) is not a hint.
        if (jws.Type != "JWT" || jws.KeyId is not { Length: > 0 and <= AccessTokenValidator.MaxKeyIdLength } kid ||
            !kid.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            return null;
        // Id tokens are signed with published keys only: an HMAC secret, which every resource server of an HS* deployment
        // holds, never vouches for a hint.
        return keys.Find(kid) is { PublicJwk: not null } key && key.Algorithm == jws.Algorithm ? key.Key : null;
    }
}
