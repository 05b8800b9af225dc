using System.Net;
using System.Text.Json;
using Xunit;

namespace Latchkey.Tests.Samples;

public sealed class SeedSampleTests(SeedSampleFixture seed) : IClassFixture<SeedSampleFixture>
{
    // From /work/shared/interop/seed-token.txt: what the tutorial's FastAPI app (python-jose 3.3.0) returns.
    internal const string SeedToken =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyMTIzIiwicm9sZSI6ImFkbWluIn0.XsdLw8gMhfpgs01nUadm-DvLYNgZRhdgMqm0TSJNMb8";

    [Fact]
    public async Task GetToken_SeedSampleRunning_ReturnsTutorialTokenAsJson()
    {
        using HttpResponseMessage response = await seed.Http.GetAsync("/token", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using JsonDocument json = JsonDocument.Parse(body);
        JsonProperty only = Assert.Single(json.RootElement.EnumerateObject());
        Assert.Equal("access_token", only.Name);
        Assert.Equal(SeedToken, only.Value.GetString());
    }
}
