using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Microsoft.Extensions.Caching.Memory;

namespace Latchkey.Tokens;

/// <summary>
/// Access tokens this node has fully verified, by their exact text, until they expire. A bearer token is presented
/// many times over its life, and its ES256 signature check is most of what a bearer request costs (bench/RESULTS.md);
/// the verdict on a signature we have checked is kept, never a verdict on anything less. A remembered token is
/// served only while it is unexpired (the same test, with the same leeway, as a full check) and while the key that
/// signed it is still published; the caller still asks the revocation list every time.
/// </summary>
internal sealed class VerifiedAccessTokens : IDisposable
{
    private readonly MemoryCache? _cache;
    private readonly SigningKeyRing _keys;
    private readonly TimeProvider _time;

    public VerifiedAccessTokens(int capacity, SigningKeyRing keys, TimeProvider time)
    {
        _keys = keys;
        _time = time;
        // Bounded: beyond the limit new tokens are simply not remembered (and verified in full) while the cache compacts.
        _cache = capacity > 0 ? new MemoryCache(new MemoryCacheOptions { SizeLimit = capacity }) : null;
    }

    /// <summary>The claims of <paramref name="token"/> if it was verified before and still may be served from memory.</summary>
    public bool TryGet(string token, out JsonElement claims)
    {
        claims = default;
        if (_cache is null || !_cache.TryGetValue(token, out Entry? entry) || entry is null)
            return false;
        // The same "exp" test as a full check; and a key that has left the ring takes its tokens with it.
        if (JwtClaimsValidator.IsExpired(entry.ExpiresAt, _time, JwsVerifier.Leeway) || !ReferenceEquals(_keys.Find(entry.KeyId), entry.Key))
        {
            _cache.Remove(token);
            return false;
        }

        claims = entry.Claims;
        return true;
    }

    /// <summary>Remembers a token that has just passed every check, with its claims (a standalone clone) and the key that verified it.</summary>
    public void Add(string token, JsonElement claims, string keyId)
    {
        if (_cache is null || _keys.Find(keyId) is not { } key || !claims.TryGetProperty("exp", out JsonElement exp))
            return;
        double expiresAt = exp.GetDouble();
        using ICacheEntry cacheEntry = _cache.CreateEntry(token);
        cacheEntry.Value = new Entry(claims, keyId, key, expiresAt);
        cacheEntry.Size = 1;
        // Dropped from memory once no longer servable; TryGet checks again against the injected clock.
        cacheEntry.AbsoluteExpiration = DateTimeOffset.FromUnixTimeMilliseconds((long)(expiresAt * 1000)) + JwsVerifier.Leeway;
    }

    public void Dispose() => _cache?.Dispose();

    private sealed record Entry(JsonElement Claims, string KeyId, SigningKey Key, double ExpiresAt);
}
