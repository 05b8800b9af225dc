using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Audit;
using Latchkey.Storage;

namespace Latchkey.Tokens;

/// <summary>What an authorization code is bound to (RFC 6749 §4.1.2, RFC 7636, OpenID Connect Core §3.1.2.5).</summary>
public sealed record CodeBinding(string ClientId, string RedirectUri, string CodeChallenge, string? Nonce, string? Scope, string SessionId, string UserId,
    DateTimeOffset AuthTime)
{
    /// <summary>How the user signed in (<see cref="Protocol.SignInMethods"/>): the id token's <c>amr</c>, and the tokens' <c>acr</c>.</summary>
    public IReadOnlyList<string> Amr { get; init; } = [Protocol.SignInMethods.Password];
}

/// <summary>The outcome of a redemption: the code's binding, or why it is refused (an <c>invalid_grant</c> either way).</summary>
public sealed record CodeRedeemed(CodeBinding? Binding, string? Refusal, string? CodeHash = null);

/// <summary>
/// Authorization codes, the one owner of their rules: 256 random bits, stored only as their SHA-256, valid
/// <see cref="Lifetime"/>, redeemed once. A second redemption revokes what the first one issued (RFC 6749 §4.1.2): the
/// login's refresh family (and with it the access tokens of that login) and the access token.
/// </summary>
internal sealed class AuthorizationCodes(IAuthorizationCodeStore store, RefreshTokenFamilies families, Revocations revocations, AuditTrail audit,
    TimeProvider time)
{
    /// <summary>How long a code can be redeemed: one minute (the issue's bound; RFC 6749 §4.1.2 recommends at most ten).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    /// <summary>A code's shape: 43 base64url characters (32 bytes). Anything else is refused before the database is asked.</summary>
    public static bool HasValidShape(string code) =>
        code.Length == 43 && code.AsSpan().IndexOfAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < 0;

    public async Task<string> IssueAsync(CodeBinding binding, CancellationToken cancellationToken)
    {
        string code = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        await store.AddAsync(new AuthorizationCodeRecord(Hash(code), binding.ClientId, binding.RedirectUri, binding.CodeChallenge, binding.Nonce, binding.Scope,
            binding.SessionId, binding.UserId, binding.AuthTime, time.GetUtcNow() + Lifetime, Amr: Protocol.SignInMethods.Format(binding.Amr)), cancellationToken);
        return code;
    }

    /// <summary>
    /// Redeems <paramref name="code"/> for <paramref name="clientId"/>: refused when it is unknown, already redeemed (and then
    /// what it issued is revoked), expired, another client's, for another <paramref name="redirectUri"/>, or when
    /// <paramref name="codeVerifier"/> does not match its challenge (RFC 7636 §4.6). A code presented by the wrong client or
    /// verifier is spent all the same: whoever holds it is not its client, and it must not be tried again.
    /// </summary>
    public async Task<CodeRedeemed> RedeemAsync(string code, string clientId, string? redirectUri, string codeVerifier, IPAddress? address,
        CancellationToken cancellationToken)
    {
        if (!HasValidShape(code))
            return new CodeRedeemed(null, "malformed code");
        string hash = Hash(code);
        DateTimeOffset now = time.GetUtcNow();
        if (await store.RedeemAsync(hash, now, cancellationToken) is not { } redemption)
            return new CodeRedeemed(null, "unknown code");
        AuthorizationCodeRecord stored = redemption.Code;
        if (!redemption.First)
        {
            await RevokeIssuedAsync(stored, address, cancellationToken);
            return new CodeRedeemed(null, "code already redeemed; what it issued is revoked");
        }

        if (stored.ExpiresAt <= now)
            return new CodeRedeemed(null, "code expired");
        if (stored.ClientId != clientId)
            return new CodeRedeemed(null, $"code issued to client '{stored.ClientId}'");
        if (redirectUri != stored.RedirectUri)
            return new CodeRedeemed(null, "redirect_uri differs from the authorization request's");
        if (!Pkce.Matches(codeVerifier, stored.CodeChallenge))
            return new CodeRedeemed(null, "code_verifier does not match the code_challenge");
        return new CodeRedeemed(new CodeBinding(stored.ClientId, stored.RedirectUri, stored.CodeChallenge, stored.Nonce, stored.Scope, stored.SessionId,
            stored.UserId, stored.AuthTime)
        { Amr = Protocol.SignInMethods.Parse(stored.Amr) }, null, hash);
    }

    /// <summary>
    /// Records what a code's redemption issued. When the code was redeemed again before this was recorded, the replay found
    /// nothing to revoke: revoke it now.
    /// </summary>
    public async Task RecordIssuedAsync(string codeHash, CodeBinding binding, string? familyId, string jwtId, DateTimeOffset accessTokenExpiresAt,
        IPAddress? address, CancellationToken cancellationToken)
    {
        if (await store.RecordIssuedAsync(codeHash, familyId, jwtId, accessTokenExpiresAt, cancellationToken))
        {
            await RevokeIssuedAsync(new AuthorizationCodeRecord(codeHash, binding.ClientId, binding.RedirectUri, binding.CodeChallenge, binding.Nonce,
                binding.Scope, binding.SessionId, binding.UserId, binding.AuthTime, DateTimeOffset.MinValue, null, familyId, jwtId, accessTokenExpiresAt),
                address, cancellationToken);
        }
    }

    private async Task RevokeIssuedAsync(AuthorizationCodeRecord code, IPAddress? address, CancellationToken cancellationToken)
    {
        var revoked = new List<string>();
        if (code.IssuedFamilyId is { } familyId &&
            await families.RevokeByIdAsync(familyId, code.UserId, code.ClientId, RefreshTokenFamilies.Reasons.CodeReplayed, address, cancellationToken))
            revoked.Add("refresh family " + familyId);
        if (code.IssuedJwtId is { } jti && code.IssuedExpiresAt is { } expires)
        {
            await revocations.RevokeAccessTokenAsync(jti, expires, cancellationToken);
            revoked.Add("access token " + jti);
        }

        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.CodeReplayed, AuditOutcomes.Failure, Subject: code.UserId, ClientId: code.ClientId,
            Address: address?.ToString(), Detail: revoked.Count == 0 ? "nothing issued yet" : "revoked: " + string.Join(", ", revoked)), cancellationToken);
    }

    /// <summary>Deletes codes that expired more than a minute ago.</summary>
    public Task<int> PurgeAsync(int limit, CancellationToken cancellationToken) =>
        store.PurgeAsync(time.GetUtcNow() - TimeSpan.FromMinutes(1), limit, cancellationToken);

    private static string Hash(string code) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(code)));
}

/// <summary>Proof Key for Code Exchange (RFC 7636), <c>S256</c> only (RFC 9700 §2.1.1: <c>plain</c> is refused).</summary>
public static class Pkce
{
    public const string S256 = "S256";

    /// <summary>A verifier or an S256 challenge: 43 to 128 unreserved characters (RFC 7636 §4.1, §4.2).</summary>
    public static bool IsWellFormed(string value) =>
        value.Length is >= 43 and <= 128 && value.AsSpan().IndexOfAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") < 0;

    /// <summary>True when BASE64URL(SHA256(verifier)) equals the challenge, compared in constant time.</summary>
    public static bool Matches(string verifier, string challenge)
    {
        if (!IsWellFormed(verifier))
            return false;
        string computed = Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(challenge));
    }
}
