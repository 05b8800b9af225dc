using System.Text;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// The keys in use: the one that signs new tokens, and every key whose tokens are still accepted.
/// Loaded at start; replaced as a whole, so a reader never sees half a ring.
/// </summary>
internal sealed class SigningKeyRing(ISigningKeyStore store, IOptions<LatchkeyOptions> options, TimeProvider time, ILogger<SigningKeyRing> logger)
{
    private sealed record Snapshot(SigningKey Current, IReadOnlyDictionary<string, SigningKey> ByKeyId, byte[] JwksJson);

    private Snapshot? _snapshot;

    private Snapshot Loaded => _snapshot ?? throw new InvalidOperationException("The signing keys are not loaded yet.");

    /// <summary>The key that signs new tokens.</summary>
    public SigningKey Current => Loaded.Current;

    /// <summary>The JWKS document (RFC 7517 §5), public parts only, ready to send.</summary>
    public byte[] JwksJson => Loaded.JwksJson;

    public bool IsLoaded => _snapshot is not null;

    /// <summary>The key for a token's <c>kid</c>, or null when it is not one of ours.</summary>
    public SigningKey? Find(string? keyId) => keyId is not null && Loaded.ByKeyId.TryGetValue(keyId, out SigningKey? key) ? key : null;

    /// <summary>
    /// Loads the keys, creating the first one (and the master key) on a fresh install. Fails start-up with a clear
    /// message when the master key cannot decrypt the stored keys.
    /// </summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
        {
            SigningKey hmac = SigningKey.FromHmacSecret(o.HmacSecret!, o.SigningAlgorithm);
            _snapshot = new Snapshot(hmac, new Dictionary<string, SigningKey> { [hmac.KeyId] = hmac }, Jwks([]));
            return;
        }

        IReadOnlyList<SigningKeyRecord> records = await store.ListActiveAsync(cancellationToken);
        byte[] master = MasterKey.Load(o, signingKeysExist: records.Count > 0, out bool created, out string source);
        if (created)
            Log.MasterKeyCreated(logger, source);
        var protector = new KeyProtector(master);

        var keys = new List<SigningKey>();
        foreach (SigningKeyRecord record in records)
        {
            keys.Add(SigningKey.Load(record, protector) ?? throw new LatchkeyStartupException(
                $"The master key from {source} does not decrypt signing key {record.KeyId}. " +
                "Use the master key this database was created with (restore master.key, or set Latchkey:MasterKey)."));
        }

        DateTimeOffset now = time.GetUtcNow();
        SigningKeyRecord? current = records.LastOrDefault(r => r.Algorithm == o.SigningAlgorithm && r.ActivatesAt <= now);
        if (current is null)
        {
            (SigningKey key, SigningKeyRecord record) = SigningKey.Generate(o.SigningAlgorithm, protector, now, now);
            await store.AddAsync(record, cancellationToken);
            Log.SigningKeyGenerated(logger, key.KeyId, key.Algorithm);
            keys.Add(key);
            current = record;
        }

        var byId = keys.ToDictionary(k => k.KeyId, StringComparer.Ordinal);
        _snapshot = new Snapshot(byId[current.KeyId], byId, Jwks(keys.Select(k => k.PublicJwk!)));
    }

    private static byte[] Jwks(IEnumerable<string> publicJwks) =>
        Encoding.UTF8.GetBytes("{\"keys\":[" + string.Join(",", publicJwks) + "]}");
}
