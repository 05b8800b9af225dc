using System.Net;
using Latchkey.Storage.Sql;
using Latchkey.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Clients;

/// <summary>
/// Client records are cached for Latchkey:ClientCacheLifetime (5 s): changes through this node apply at once, changes
/// made elsewhere (the CLI, another node: here, the store underneath the cache) within the lifetime, never later.
/// </summary>
public sealed class CachingClientStoreTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string> Form = new() { ["grant_type"] = "client_credentials" };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private LatchkeyTestServer _server = null!;
    private string _secret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        _secret = await _server.AddClientAsync("billing", ["client_credentials"], ["invoices:read"]);
        await HttpAssert.OkJsonAsync(await TokenAsync(_secret)); // now cached
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> TokenAsync(string secret) => _server.PostFormAsync("/token", Form, basic: ("billing", secret));

    /// <summary>What `latchkey clients disable` or another node does: the database changes, this node's cache does not hear of it.</summary>
    private SqlClientStore Database => _server.Services.GetRequiredService<SqlClientStore>();

    [Fact]
    public async Task DisabledElsewhere_RefusedOnceTheLifetimeHasPassed()
    {
        Assert.NotNull(await Database.UpdateAsync("billing", c => c with { Disabled = true }, null, Ct));

        _server.Time.Advance(TimeSpan.FromSeconds(4.9));
        await HttpAssert.OkJsonAsync(await TokenAsync(_secret));
        _server.Time.Advance(TimeSpan.FromSeconds(0.1));
        await HttpAssert.OAuthErrorAsync(await TokenAsync(_secret), HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task SecretRotatedElsewhere_OldSecretRefusedAndNewAcceptedOnceTheLifetimeHasPassed()
    {
        string fresh = Latchkey.Clients.ClientSecrets.Generate();
        SecretsSeen.Record(fresh, "a client secret");
        Assert.NotNull(await Database.UpdateAsync("billing", c => c with { SecretHash = Latchkey.Clients.ClientSecrets.Hash(fresh) }, null, Ct));

        _server.Time.Advance(TimeSpan.FromSeconds(5));
        await HttpAssert.OAuthErrorAsync(await TokenAsync(_secret), HttpStatusCode.Unauthorized, "invalid_client");
        await HttpAssert.OkJsonAsync(await TokenAsync(fresh));
    }

    [Fact]
    public async Task DisabledThroughThisNode_RefusedAtOnce()
    {
        var accounts = _server.Services.GetRequiredService<Latchkey.Clients.ClientAccounts>();
        Assert.Null((await accounts.SetDisabledAsync("billing", true, "test", Ct)).Error);

        await HttpAssert.OAuthErrorAsync(await TokenAsync(_secret), HttpStatusCode.Unauthorized, "invalid_client");
    }
}
