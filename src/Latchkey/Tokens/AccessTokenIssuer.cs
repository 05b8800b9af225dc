using System.Buffers;
using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// Who and what an access token is for. <paramref name="Audience"/> null means the configured default;
/// <paramref name="SessionId"/> is the login (refresh family) it comes from, if any. <paramref name="AuthorizedAt"/> is when
/// what the token rests on was read (the login began, the client's record was read): its <c>jti</c> carries that time, so a
/// cut-off after it refuses the token however late it was minted. Null: now.
/// </summary>
public sealed record AccessTokenSubject(string Subject, string? Username, IReadOnlyList<string> Roles, string? Scope, string ClientId, string? Audience = null,
    string? SessionId = null, DateTimeOffset? AuthorizedAt = null)
{
    /// <summary>When the user authenticated (<c>auth_time</c>, RFC 9068 §2.2.1); null for a client's own token.</summary>
    public DateTimeOffset? AuthTime { get; init; }

    /// <summary>The level that sign-in reached (<c>acr</c>, <see cref="Protocol.AuthenticationLevels"/>), so an API can demand a stronger one.</summary>
    public string? Acr { get; init; }
}

/// <summary>A freshly signed access token.</summary>
public sealed record IssuedAccessToken(string Token, string JwtId, long ExpiresIn, string Algorithm);

/// <summary>
/// Signs access tokens in the RFC 9068 profile: header <c>typ: at+jwt</c> and <c>kid</c>; claims
/// <c>iss sub aud exp iat jti client_id</c>, plus <c>scope</c>, <c>role</c> (always an array), <c>preferred_username</c>,
/// <c>sid</c> (the login), and <c>auth_time</c> and <c>acr</c> (how the user signed in) when they apply. A token with the admin scope (<see cref="Scopes.Admin"/>) has Latchkey's
/// own audience, its issuer, and no other.
/// </summary>
internal sealed class AccessTokenIssuer(SigningKeyRing keys, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public const string TokenType = "at+jwt";

    public IssuedAccessToken Issue(AccessTokenSubject subject)
    {
        LatchkeyOptions o = options.Value;
        SigningKey key = keys.Current;
        DateTimeOffset issuedAt = time.GetUtcNow();
        long now = issuedAt.ToUnixTimeSeconds();
        long lifetime = (long)o.AccessTokenLifetime.TotalSeconds;
        string jti = JwtIds.New(subject.AuthorizedAt is { } authorizedAt && authorizedAt < issuedAt ? authorizedAt : issuedAt);
        string audience = Scopes.IncludesAdmin(subject.Scope) ? o.Issuer! : subject.Audience ?? o.Audience;

        var payload = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(payload, new JsonWriterOptions { Encoder = JwsWriter.Encoder }))
        {
            writer.WriteStartObject();
            writer.WriteString(LatchkeyClaims.Issuer, o.Issuer);
            writer.WriteString(LatchkeyClaims.Subject, subject.Subject);
            writer.WriteString(LatchkeyClaims.Audience, audience);
            writer.WriteNumber(LatchkeyClaims.Expires, now + lifetime);
            writer.WriteNumber(LatchkeyClaims.IssuedAt, now);
            writer.WriteString(LatchkeyClaims.JwtId, jti);
            writer.WriteString(LatchkeyClaims.ClientId, subject.ClientId);
            if (subject.Scope is not null)
                writer.WriteString(LatchkeyClaims.Scope, subject.Scope);
            if (subject.Username is not null)
                writer.WriteString(LatchkeyClaims.PreferredUsername, subject.Username);
            if (subject.SessionId is not null)
                writer.WriteString(LatchkeyClaims.SessionId, subject.SessionId);
            if (subject.AuthTime is { } authTime)
                writer.WriteNumber(LatchkeyClaims.AuthTime, authTime.ToUnixTimeSeconds());
            if (subject.Acr is not null)
                writer.WriteString(LatchkeyClaims.AuthenticationContext, subject.Acr);
            writer.WriteStartArray(LatchkeyClaims.Role);
            foreach (string role in subject.Roles)
                writer.WriteStringValue(role);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        byte[] header = JwsWriter.Header(key.Algorithm, TokenType, key.KeyId);
        string token = JwsWriter.Write(header, payload.WrittenSpan, key.Key, key.Algorithm);
        return new IssuedAccessToken(token, jti, lifetime, key.Algorithm);
    }
}
