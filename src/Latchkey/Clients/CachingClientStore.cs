using System.Collections.Concurrent;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Clients;

/// <summary>
/// The server's view of registered clients: a client found in the database is kept in memory for
/// <see cref="LatchkeyOptions.ClientCacheLifetime"/>, so <c>client_credentials</c> costs its signature, not a database
/// round trip. A change made through this node (admin API) applies here at once; one made on another node or with the
/// CLI (disable, secret rotation, scopes, removal) applies within the lifetime. Unknown ids are never cached: callers choose them.
/// </summary>
internal sealed class CachingClientStore(IClientStore inner, IOptions<LatchkeyOptions> options, TimeProvider time) : IClientStore
{
    private readonly ConcurrentDictionary<string, (ClientRecord Client, DateTimeOffset Until)> _found = new(StringComparer.Ordinal);

    public async Task<ClientRecord?> FindAsync(string clientId, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_found.TryGetValue(clientId, out var cached) && cached.Until > now)
            return cached.Client;

        ClientRecord? client = await inner.FindAsync(clientId, cancellationToken);
        if (client is null)
            _found.TryRemove(clientId, out _);
        else
            _found[clientId] = (client, now + options.Value.ClientCacheLifetime);
        return client;
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
