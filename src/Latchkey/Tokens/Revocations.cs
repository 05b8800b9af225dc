using System.Collections.Concurrent;
using System.Text.Json;
using Latchkey.Diagnostics;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// What this node refuses access tokens for, beyond their signature and claims: revoked tokens (<c>jti</c>), revoked logins
/// (a refresh family: tokens whose <c>sid</c> is it), and users' and clients' cut-offs (their tokens issued at or before
/// it). Held in memory, so a bearer check costs a few dictionary lookups and no database round trip, and goes on working
/// while the database is away. A change made through this node applies here at once (<see cref="Apply"/>); one made
/// elsewhere (another node, the CLI) from the next <see cref="SyncAsync"/>, every
/// <see cref="LatchkeyOptions.RevocationRefreshInterval"/>. Revoked signing keys leave the key ring at that same sync.
/// </summary>
internal sealed class Revocations(IRevocationStore store, SigningKeyRing keys, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<Revocations> logger)
{
    /// <summary>
    /// Each sync reads the revocations recorded since the previous one began, less this, both on the database's clock: a
    /// revocation is stamped by the database when its statement runs, and becomes visible at its transaction's commit, a
    /// moment later. Covers transactions of up to a minute.
    /// </summary>
    public static readonly TimeSpan SyncOverlap = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A node whose clock differs from the database's by more than this is warned about: cut-offs compare the time of
    /// the node that made them with the times other nodes wrote into their tokens.
    /// </summary>
    public static readonly TimeSpan ClockTolerance = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, long> _accessTokens = new(StringComparer.Ordinal); // jti → when the token expires
    private readonly ConcurrentDictionary<string, long> _families = new(StringComparer.Ordinal); // family id → when it was revoked
    private readonly ConcurrentDictionary<string, long> _users = new(StringComparer.Ordinal); // user id → cut-off
    private readonly ConcurrentDictionary<string, long> _clients = new(StringComparer.Ordinal); // client id → cut-off
    private DateTimeOffset? _lastRead; // the database's clock when the last read began
    private bool _clockWarned;

    /// <summary>Why Latchkey refuses the token with these (verified) claims, or null when nothing revoked it.</summary>
    public string? Refusal(JsonElement claims)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string? jti = String(claims, LatchkeyClaims.JwtId);
        if (jti is not null && _accessTokens.TryGetValue(jti, out long expires) && expires > now)
            return $"the token {jti} was revoked";
        if (String(claims, LatchkeyClaims.SessionId) is { } sid && _families.ContainsKey(sid))
            return $"its login (refresh family {sid}) was revoked";
        if (String(claims, LatchkeyClaims.Subject) is { } sub && _users.TryGetValue(sub, out long userCut) && IssuedAtOrBefore(claims, jti, userCut))
            return $"it was issued before the tokens of user {sub} were cut off";
        if (String(claims, LatchkeyClaims.ClientId) is { } client && _clients.TryGetValue(client, out long clientCut) && IssuedAtOrBefore(claims, jti, clientCut))
            return $"it was issued before the tokens of client {client} were cut off";
        return null;
    }

    /// <summary>The client's latest cut-off this node knows of, in Unix milliseconds, or null.</summary>
    public long? ClientCutOff(string clientId) => _clients.TryGetValue(clientId, out long at) ? at : null;

    /// <summary>Records an access token's revocation for every node, then honours it here at once.</summary>
    public async Task RevokeAccessTokenAsync(string jti, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var revocation = new Revocation(RevocationKinds.AccessToken, jti, time.GetUtcNow(), expiresAt);
        await store.AddAsync(revocation, cancellationToken);
        Apply(revocation);
    }

    /// <summary>Honours here, at once, a revocation this node has just stored (with the change it belongs to).</summary>
    public void Apply(Revocation revocation)
    {
        long at = revocation.At.ToUnixTimeMilliseconds();
        switch (revocation.Kind)
        {
            case RevocationKinds.AccessToken:
                _accessTokens[revocation.Id] = revocation.ExpiresAt.ToUnixTimeMilliseconds();
                break;
            case RevocationKinds.Family:
                _families[revocation.Id] = at;
                break;
            case RevocationKinds.User:
                _users.AddOrUpdate(revocation.Id, at, (_, known) => Math.Max(known, at));
                break;
            case RevocationKinds.Client:
                _clients.AddOrUpdate(revocation.Id, at, (_, known) => Math.Max(known, at));
                break;
        }
    }

    /// <summary>At start: every live revocation.</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        RevocationsRead read = await store.ListLiveAsync(time.GetUtcNow(), cancellationToken);
        foreach (Revocation revocation in read.Revocations)
            Apply(revocation);
        Read(read);
    }

    /// <summary>
    /// Reads what was revoked since the last sync (on failure the caller logs and tries again; what is known stays in force),
    /// re-reads the signing keys when one of them was revoked, and forgets what no live token can match any more.
    /// </summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (_lastRead is not { } lastRead)
        {
            await LoadAsync(cancellationToken);
            return;
        }

        RevocationsRead read = await store.ListRecordedSinceAsync(lastRead - SyncOverlap, cancellationToken);
        bool keyRevoked = false;
        foreach (Revocation revocation in read.Revocations)
        {
            Apply(revocation);
            keyRevoked |= revocation.Kind == RevocationKinds.Key && keys.IsLoaded && keys.Find(revocation.Id) is not null;
        }

        if (keyRevoked)
            await keys.RefreshAsync(cancellationToken);
        Read(read);
        Forget(time.GetUtcNow());
    }

    /// <summary>Remembers where the next read starts, and says once when this node's clock has left the database's.</summary>
    private void Read(RevocationsRead read)
    {
        _lastRead = read.DatabaseNow;
        TimeSpan difference = time.GetUtcNow() - read.DatabaseNow;
        bool off = difference.Duration() > ClockTolerance;
        if (off && !_clockWarned)
            Log.ClockDiffersFromDatabase(logger, difference);
        _clockWarned = off;
    }

    /// <summary>Drops entries every token they could refuse has outlived: past its expiry (a jti), or a lifetime and the leeway after.</summary>
    private void Forget(DateTimeOffset now)
    {
        long nowMs = now.ToUnixTimeMilliseconds();
        long oldest = (now - options.Value.AccessTokenLifetime - JwsVerifier.Leeway).ToUnixTimeMilliseconds();
        foreach ((string jti, long expires) in _accessTokens)
        {
            if (expires <= nowMs)
                _accessTokens.TryRemove(jti, out _);
        }

        foreach (ConcurrentDictionary<string, long> byTime in (ReadOnlySpan<ConcurrentDictionary<string, long>>)[_families, _users, _clients])
        {
            foreach ((string id, long at) in byTime)
            {
                if (at < oldest)
                    byTime.TryRemove(id, out _);
            }
        }
    }

    /// <summary>
    /// True when the token was issued at or before <paramref name="cutOff"/> (Unix milliseconds): by the time in its UUIDv7
    /// <c>jti</c>, or, for a token without one, by <c>iat</c>, whose whole second counts as at the cut-off when they share it.
    /// </summary>
    private static bool IssuedAtOrBefore(JsonElement claims, string? jti, long cutOff)
    {
        if (JwtIds.TryReadIssuedAt(jti, out long issuedAt))
            return issuedAt <= cutOff;
        return !claims.TryGetProperty(LatchkeyClaims.IssuedAt, out JsonElement iat) || !iat.TryGetInt64(out long seconds) || seconds * 1000 <= cutOff;
    }

    private static string? String(JsonElement claims, string name) =>
        claims.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>Keeps <see cref="Revocations"/> in step with the revocations of every node.</summary>
internal sealed class RevocationsSync(Revocations revocations, IOptions<LatchkeyOptions> options, TimeProvider time, ILogger<RevocationsSync> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RevocationRefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await revocations.SyncAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.RevocationSyncFailed(logger, e);
            }
        }
    }
}
