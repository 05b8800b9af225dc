using System.Collections.Concurrent;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Clients;

/// <summary>
/// The server's view of registered clients: a client found in the database is kept in memory for
/// <see cref="LatchkeyOptions.ClientCacheLifetime"/>, so <c>client_credentials</c> costs its signature, not a database
/// round trip. A change made through this node (admin API) applies here at once; one made on another node or with the
/// CLI (disable, secret rotation, scopes, removal) applies within the lifetime, and a client's cut-off (disable, removal)
/// as soon as this node has synced the revocations. Unknown ids are never cached: callers choose them.
/// </summary>
internal sealed class CachingClientStore(IClientStore inner, IOptions<LatchkeyOptions> options, TimeProvider time, Tokens.Revocations revocations) : IClientStore
{
    private readonly ConcurrentDictionary<string, (ClientRecord Client, DateTimeOffset ReadAt, DateTimeOffset Until)> _found = new(StringComparer.Ordinal);

    public async Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken) =>
        (await FindWithReadTimeAsync(clientId, cancellationToken)).Client;

    /// <summary>
    /// The client, and when its record was read from the database: what a token minted from it is as good as. A token's
    /// authority dates from then, so a cut-off made elsewhere after that moment refuses it, even if this node minted it
    /// from its cache before it heard of the change.
    /// </summary>
    /// <param name="readAfter">When given, a record read at or before it is read again (it may predate a change made since).</param>
    public async Task<(ClientRecord? Client, DateTimeOffset ReadAt)> FindWithReadTimeAsync(string clientId, CancellationToken cancellationToken,
        DateTimeOffset? readAfter = null)
    {
        DateTimeOffset now = time.GetUtcNow();
        // Times compared in whole milliseconds, as cut-offs and the times in tokens are kept.
        if (_found.TryGetValue(clientId, out var cached) && cached.Until > now &&
            !(readAfter?.ToUnixTimeMilliseconds() >= cached.ReadAt.ToUnixTimeMilliseconds()) &&
            !(revocations.ClientCutOff(clientId) >= cached.ReadAt.ToUnixTimeMilliseconds()))
            return (cached.Client, cached.ReadAt);

        ClientRecord? client = await inner.FindAsync(clientId, cancellationToken);
        if (client is null)
            _found.TryRemove(clientId, out _);
        else
            _found[clientId] = (client, now, now + options.Value.ClientCacheLifetime);
        return (client, now);
    }

    public Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

    public Task<bool> TryAddAsync(ClientRecord client, CancellationToken cancellationToken) => ForgetAfter(client.ClientId, inner.TryAddAsync(client, cancellationToken));

    public Task<ClientUpdate?> UpdateAsync(string clientId, Func<ClientRecord, ClientRecord> change, Revocation? cutOff, CancellationToken cancellationToken) =>
        ForgetAfter(clientId, inner.UpdateAsync(clientId, change, cutOff, cancellationToken));

    public Task<bool> RemoveAsync(string clientId, Revocation cutOff, CancellationToken cancellationToken) =>
        ForgetAfter(clientId, inner.RemoveAsync(clientId, cutOff, cancellationToken));

    private async Task<T> ForgetAfter<T>(string clientId, Task<T> change)
    {
        try
        {
            return await change;
        }
        finally
        {
            _found.TryRemove(clientId, out _);
        }
    }
}
