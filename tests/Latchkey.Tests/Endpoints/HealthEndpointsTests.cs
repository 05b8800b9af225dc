using System.Net;
using System.Text.Json;
#if !LATCHKEY_POSTGRES
using Latchkey.Storage.Sqlite;
#endif
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary><c>/healthz</c> says the process is up; <c>/readyz</c> says whether it can serve: database and keys.</summary>
public sealed class HealthEndpointsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Healthz_Running_Is200Ok()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync("/healthz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Readyz_DatabaseAndKeysUp_Is200WithEachCheckHealthy()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync("/readyz", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        JsonElement body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("signing_keys").GetProperty("status").GetString());
        Assert.StartsWith("signing with ", body.GetProperty("checks").GetProperty("signing_keys").GetProperty("description").GetString());
    }

#if !LATCHKEY_POSTGRES
    // About the SQLite file itself.
    [Fact]
    public async Task Readyz_DatabaseFileMovedAway_Is503UntilItIsBack()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        string database = Path.Combine(server.DataDirectory, SqliteDatabase.FileName);
        string aside = database + ".aside";

        File.Move(database, aside);
        try
        {
            using HttpResponseMessage down = await server.Client.GetAsync("/readyz", Ct);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            JsonElement body = JsonDocument.Parse(await down.Content.ReadAsStringAsync(Ct)).RootElement;
            Assert.Equal("Unhealthy", body.GetProperty("status").GetString());
            Assert.Equal("Unhealthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
            Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("signing_keys").GetProperty("status").GetString());
            Assert.False(File.Exists(database), "the check must not create an empty database in its place");
            // Liveness is not readiness: the process is still up.
            using HttpResponseMessage live = await server.Client.GetAsync("/healthz", Ct);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
        finally
        {
            File.Move(aside, database);
        }

        using HttpResponseMessage up = await server.Client.GetAsync("/readyz", Ct);
        Assert.Equal(HttpStatusCode.OK, up.StatusCode);
    }
#endif
}
