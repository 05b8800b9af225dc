using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// Refresh tokens: opaque, 256 random bits, stored only as SHA-256 hashes, one family per login. Also seals the
/// successor pair kept during the reuse window, under a key derived from the presented token itself: the database
/// holds only the token's hash, so a reader of the database cannot open it.
/// </summary>
internal sealed class RefreshTokens(IRefreshTokenStore store, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>The prefix tells refresh tokens from JWTs at a glance, and lets secret scanners find leaked ones.</summary>
    public const string Prefix = "lk_rt_";

    private const int RandomBytes = 32;

    /// <summary>
    /// Starts a family for a fresh login and returns its first token and the family's id (the login's <c>sid</c>). The family
    /// is as old as <paramref name="loggedInAt"/>, when the login began (and its lifetime counts from then): a cut-off of the
    /// user's or the client's tokens after that moment ends it, even if it was stored after the cut-off.
    /// </summary>
    public async Task<(string Token, string FamilyId)> StartFamilyAsync(string userId, string clientId, string? scope, DateTimeOffset loggedInAt,
        CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        RefreshTokenOptions o = options.Value.RefreshTokens;
        string familyId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        var family = new RefreshFamilyRecord(familyId, userId, clientId, loggedInAt, loggedInAt + o.AbsoluteLifetime, RevokedAt: null);
        string token = Generate();
        await store.AddFamilyAsync(family, Record(token, family, scope, now), cancellationToken);
        return (token, familyId);
    }

    /// <summary>A new token in the same family, expiring a sliding lifetime from now but never after the family.</summary>
    public RefreshTokenRecord Successor(RefreshFamilyRecord family, string? scope, out string token)
    {
        token = Generate();
        return Record(token, family, scope, time.GetUtcNow());
    }

    private RefreshTokenRecord Record(string token, RefreshFamilyRecord family, string? scope, DateTimeOffset now)
    {
        DateTimeOffset sliding = now + options.Value.RefreshTokens.SlidingLifetime;
        DateTimeOffset expires = sliding < family.AbsoluteExpiresAt ? sliding : family.AbsoluteExpiresAt;
        return new RefreshTokenRecord(Hash(token), family.FamilyId, family.ClientId, family.UserId, scope, now, expires, SpentAt: null);
    }

    /// <summary>How often a rotation also clears sealed successors whose reuse window has ended, when none are left over.</summary>
    public static readonly TimeSpan SealSweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>The most one sweep clears: short enough that other rotations barely wait for it (SQLite has one writer).</summary>
    public const int SealSweepBatch = 500;

    private readonly IntervalGate _sealSweep = new(SealSweepInterval);

    /// <summary>
    /// Clears one batch of expired sealed successors, unless that was done less than <see cref="SealSweepInterval"/> ago
    /// here and left none behind. Sweeping on every rotation made each one, on PostgreSQL, wade through the index entries
    /// the previous sweeps had left dead; sweeping everything at once held SQLite's write lock long enough to show in p99.
    /// A full batch means more are waiting: the next rotation sweeps again.
    /// </summary>
    public async Task DropExpiredSealsIfDueAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!_sealSweep.TryEnter(now))
            return;
        if (await store.DropExpiredSealsAsync(now, SealSweepBatch, cancellationToken) == SealSweepBatch)
            _sealSweep.Reopen(now);
    }

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(RandomBytes));

    /// <summary>
    /// True when <paramref name="token"/> has the shape of one of ours. Anything else is refused before the database is asked.
    /// </summary>
    public static bool HasValidShape(string token) =>
        token.Length == Prefix.Length + 43 && token.StartsWith(Prefix, StringComparison.Ordinal) &&
        token.AsSpan(Prefix.Length).IndexOfAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < 0;

    /// <summary>A fast hash is enough: the token has 256 random bits, so there is nothing to guess.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    /// <summary>Encrypts the successor response with AES-256-GCM under HKDF(presented token).</summary>
    public static byte[] Seal(TokenResponse response, string presentedToken)
    {
        byte[] plaintext = JsonSerializer.SerializeToUtf8Bytes(response, LatchkeyJsonContext.Default.TokenResponse);
        byte[] output = new byte[12 + 16 + plaintext.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(SealingKey(presentedToken), 16);
        aes.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(28), output.AsSpan(12, 16));
        CryptographicOperations.ZeroMemory(plaintext);
        return output;
    }

    /// <summary>Opens what <see cref="Seal"/> made, or returns null if this is not the token it was sealed for.</summary>
    public static TokenResponse? Unseal(byte[] sealedResponse, string presentedToken)
    {
        if (sealedResponse.Length < 28)
            return null;
        byte[] plaintext = new byte[sealedResponse.Length - 28];
        try
        {
            using var aes = new AesGcm(SealingKey(presentedToken), 16);
            aes.Decrypt(sealedResponse.AsSpan(0, 12), sealedResponse.AsSpan(28), sealedResponse.AsSpan(12, 16), plaintext);
            return JsonSerializer.Deserialize(plaintext, LatchkeyJsonContext.Default.TokenResponse);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    private static byte[] SealingKey(string presentedToken) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.ASCII.GetBytes(presentedToken), 32, salt: [], info: "latchkey/refresh-replay/v1"u8.ToArray());
}
