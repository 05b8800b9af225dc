using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>Who an id token is about, for which client, from which sign-in, and the access token it comes with.</summary>
public sealed record IdTokenSubject(string Subject, string? Username, string ClientId, string SessionId, DateTimeOffset AuthTime, string? Nonce, string? Scope,
    string AccessToken)
{
    public string? Name { get; init; }
    public string? Email { get; init; }
    public bool EmailVerified { get; init; }

    /// <summary>How the user signed in (<c>amr</c>, RFC 8176); the id token's <c>acr</c> is the level they reach.</summary>
    public IReadOnlyList<string> Amr { get; init; } = [Protocol.SignInMethods.Password];

    /// <summary>The algorithm the client registered for its id tokens; null: RS256.</summary>
    public string? Algorithm { get; init; }
}

/// <summary>
/// Signs OpenID Connect id tokens (Core §2, §3.1.3.6): <c>iss sub aud exp iat auth_time sid amr acr at_hash</c>, <c>nonce</c> when the
/// client sent one, and <c>preferred_username</c> with the <c>profile</c> scope. Signed with RS256 (the ring's id-token key,
/// whatever signs access tokens), or with the access tokens' key for a client that registered its algorithm, with header <c>typ: JWT</c>, so an id token can never pass for an access token (<c>at+jwt</c>, RFC 9068 §4).
/// </summary>
internal sealed class IdTokenIssuer(SigningKeyRing keys, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public string Issue(IdTokenSubject subject)
    {
        LatchkeyOptions o = options.Value;
        SigningKey key = keys.IdTokenSignerFor(subject.Algorithm);
        long now = time.GetUtcNow().ToUnixTimeSeconds();
        var payload = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(payload, new JsonWriterOptions { Encoder = JwsWriter.Encoder }))
        {
            writer.WriteStartObject();
            writer.WriteString(LatchkeyClaims.Issuer, o.Issuer);
            writer.WriteString(LatchkeyClaims.Subject, subject.Subject);
            writer.WriteString(LatchkeyClaims.Audience, subject.ClientId);
            writer.WriteNumber(LatchkeyClaims.Expires, now + (long)o.AccessTokenLifetime.TotalSeconds);
            writer.WriteNumber(LatchkeyClaims.IssuedAt, now);
            writer.WriteNumber(LatchkeyClaims.AuthTime, subject.AuthTime.ToUnixTimeSeconds());
            if (subject.Nonce is not null)
                writer.WriteString(LatchkeyClaims.Nonce, subject.Nonce);
            writer.WriteString(LatchkeyClaims.SessionId, subject.SessionId);
            writer.WriteStartArray(LatchkeyClaims.AuthenticationMethods);
            foreach (string method in subject.Amr)
                writer.WriteStringValue(method);
            writer.WriteEndArray();
            writer.WriteString(LatchkeyClaims.AuthenticationContext, Protocol.AuthenticationLevels.Of(subject.Amr));
            writer.WriteString(LatchkeyClaims.AccessTokenHash, AccessTokenHash(subject.AccessToken, key.Algorithm));
            WriteProfile(writer, Scopes.Parse(subject.Scope) ?? [], subject.Username, subject.Name, subject.Email, subject.EmailVerified);
            writer.WriteEndObject();
        }

        byte[] header = JwsWriter.Header(key.Algorithm, "JWT", key.KeyId);
        return JwsWriter.Write(header, payload.WrittenSpan, key.Key, key.Algorithm);
    }

    /// <summary>
    /// The claims the <c>profile</c> scope (<c>preferred_username</c>, and <c>name</c> when the user has one) and the <c>email</c>
    /// scope (<c>email</c> and <c>email_verified</c>, when the user has an address) add, to an id token or to <c>/userinfo</c>.
    /// </summary>
    public static void WriteProfile(Utf8JsonWriter writer, IReadOnlyList<string> scopes, string? username, string? name, string? email, bool emailVerified)
    {
        if (scopes.Contains(Scopes.Profile))
        {
            if (username is not null)
                writer.WriteString(LatchkeyClaims.PreferredUsername, username);
            if (name is not null)
                writer.WriteString(LatchkeyClaims.Name, name);
        }

        if (scopes.Contains(Scopes.Email) && email is not null)
        {
            writer.WriteString(LatchkeyClaims.Email, email);
            writer.WriteBoolean(LatchkeyClaims.EmailVerified, emailVerified);
        }
    }

    /// <summary>
    /// <c>at_hash</c> (Core §3.1.3.6): the left half of the access token's hash, by the hash of the id token's algorithm
    /// (SHA-512 for EdDSA with Ed25519, as the OpenID Foundation's errata settle it).
    /// </summary>
    public static string AccessTokenHash(string accessToken, string algorithm)
    {
        byte[] ascii = Encoding.ASCII.GetBytes(accessToken);
        byte[] hash = algorithm[^3..] switch
        {
            "384" => SHA384.HashData(ascii),
            "512" or "DSA" => SHA512.HashData(ascii),
            _ => SHA256.HashData(ascii),
        };
        return Base64Url.EncodeToString(hash.AsSpan(0, hash.Length / 2));
    }
}
