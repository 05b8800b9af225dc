using System.Collections.Concurrent;
using System.Collections.Frozen;
using Latchkey.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// The access tokens revoked through <c>/revoke</c>, as this node knows them: the deny list as it was at the last sync
/// (every <see cref="LatchkeyOptions.RevocationRefreshInterval"/>), plus what this node revoked since. Checking a bearer
/// token costs a dictionary lookup, not a database round trip, and keeps working while the database is away.
/// A revocation made on another node is honoured here from the next sync on.
/// </summary>
internal sealed class RevokedAccessTokens(IAccessTokenDenyList store, TimeProvider time)
{
    private FrozenDictionary<string, DateTimeOffset> _synced = FrozenDictionary<string, DateTimeOffset>.Empty;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _revokedHere = new(StringComparer.Ordinal);

    public bool Contains(string jwtId)
    {
        DateTimeOffset now = time.GetUtcNow();
        return (Volatile.Read(ref _synced).TryGetValue(jwtId, out DateTimeOffset until) || _revokedHere.TryGetValue(jwtId, out until)) && until > now;
    }

    /// <summary>Stores the revocation (shared with every node), then honours it here at once.</summary>
    public async Task AddAsync(string jwtId, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await store.AddAsync(jwtId, until, time.GetUtcNow(), cancellationToken);
        _revokedHere[jwtId] = until;
    }

    /// <summary>Re-reads the deny list. On failure the last list stays in force (the caller logs and tries again).</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyDictionary<string, DateTimeOffset> live = await store.ListAsync(now, cancellationToken);
        Volatile.Write(ref _synced, live.ToFrozenDictionary(StringComparer.Ordinal));
        foreach ((string jti, DateTimeOffset until) in _revokedHere)
        {
            if (until <= now)
                _revokedHere.TryRemove(jti, out _);
        }
    }
}

/// <summary>Keeps <see cref="RevokedAccessTokens"/> in step with the shared deny list.</summary>
internal sealed class RevokedAccessTokensSync(RevokedAccessTokens revoked, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<RevokedAccessTokensSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RevocationRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await revoked.SyncAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.RevocationSyncFailed(logger, e);
            }
        }
    }
}
