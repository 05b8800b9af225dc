using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary><c>/openapi.json</c> and <c>/docs</c> over plain HTTP; <see cref="DocsBrowserTests"/> drives the UI in a browser.</summary>
public sealed class ApiDocsTests : IAsyncLifetime
{
    /// <summary>The groups of /docs, in the order the document lists them.</summary>
    private static readonly string[] TagsInOrder = ["Tokens", "Signed-in user", "Administration", "Discovery and keys"];

    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await LatchkeyTestServer.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task OpenApi_Default_IsOpenApi31ListingEveryEndpoint()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/openapi.json");

        JsonElement doc = await HttpAssert.OkJsonAsync(response);
        Assert.StartsWith("3.1.", doc.GetProperty("openapi").GetString());
        JsonElement paths = doc.GetProperty("paths");
        foreach (string path in new[] { "/token", "/me", "/userinfo", "/revoke", "/introspect", "/.well-known/jwks.json", "/admin/users" })
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is missing from the document's paths.");
        Assert.False(paths.TryGetProperty("/openapi.json", out _));
    }

    [Fact]
    public async Task OpenApi_TokenEndpoint_DescribesTheFormAndEveryOutcome()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/openapi.json");
        JsonElement doc = await HttpAssert.OkJsonAsync(response);

        JsonElement token = doc.GetProperty("paths").GetProperty("/token").GetProperty("post");
        JsonElement form = token.GetProperty("requestBody").GetProperty("content").GetProperty("application/x-www-form-urlencoded").GetProperty("schema");
        Assert.Equal(["grant_type", "code", "redirect_uri", "code_verifier", "username", "password", "scope", "refresh_token", "client_id", "client_secret"],
            form.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["grant_type"], form.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["authorization_code", "password", "client_credentials", "refresh_token"],
            form.GetProperty("properties").GetProperty("grant_type").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));

        JsonElement responses = token.GetProperty("responses");
        Assert.Equal(["200", "400", "401", "429"], responses.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(["access_token", "token_type", "expires_in", "scope", "refresh_token", "id_token"],
            PropertiesOf(doc, responses.GetProperty("200")));
        foreach (string status in new[] { "400", "401", "429" })
            Assert.Equal(["error", "error_description"], PropertiesOf(doc, responses.GetProperty(status)));
    }

    [Fact]
    public async Task OpenApi_Me_RequiresTheOAuth2PasswordFlowAgainstToken()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/openapi.json");
        JsonElement doc = await HttpAssert.OkJsonAsync(response);

        JsonElement scheme = doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("oauth2");
        Assert.Equal("oauth2", scheme.GetProperty("type").GetString());
        Assert.Equal("/token", scheme.GetProperty("flows").GetProperty("password").GetProperty("tokenUrl").GetString());
        JsonElement me = doc.GetProperty("paths").GetProperty("/me").GetProperty("get");
        Assert.True(me.GetProperty("security")[0].TryGetProperty("oauth2", out _), me.GetRawText());
        Assert.True(me.GetProperty("responses").TryGetProperty("401", out _));
        JsonElement token = doc.GetProperty("paths").GetProperty("/token").GetProperty("post");
        Assert.False(token.TryGetProperty("security", out _));
    }

    [Fact]
    public async Task OpenApi_EveryOperation_IsGroupedByWhatAUserDoes()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/openapi.json");
        JsonElement doc = await HttpAssert.OkJsonAsync(response);

        var tagOf = new Dictionary<string, string>();
        foreach (JsonProperty path in doc.GetProperty("paths").EnumerateObject())
        {
            foreach (JsonProperty operation in path.Value.EnumerateObject().Where(o => o.Value.TryGetProperty("responses", out _)))
            {
                string name = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                // Exactly one of the named groups: never untagged, never the handler's class name (TokenEndpoint, …).
                Assert.True(operation.Value.TryGetProperty("tags", out JsonElement tags), $"{name} has no tags.");
                string tag = Assert.Single(tags.EnumerateArray()).GetString()!;
                Assert.True(TagsInOrder.Contains(tag), $"{name} is tagged '{tag}', not one of {string.Join(", ", TagsInOrder)}.");
                tagOf[name] = tag;
                // And it says what it does, in the line the UI shows beside the path.
                Assert.True(operation.Value.TryGetProperty("summary", out JsonElement summary) && !string.IsNullOrWhiteSpace(summary.GetString()),
                    $"{name} has no summary.");
            }
        }

        Assert.Equal("Tokens", tagOf["POST /token"]);
        Assert.Equal("Tokens", tagOf["GET /token"]);
        Assert.Equal("Tokens", tagOf["POST /revoke"]);
        Assert.Equal("Tokens", tagOf["POST /introspect"]);
        Assert.Equal("Signed-in user", tagOf["GET /me"]);
        Assert.Equal("Signed-in user", tagOf["GET /userinfo"]);
        Assert.Equal("Administration", tagOf["POST /admin/users"]);
        Assert.Equal("Administration", tagOf["GET /admin/audit"]);
        Assert.Equal("Discovery and keys", tagOf["GET /.well-known/openid-configuration"]);
        Assert.Equal("Discovery and keys", tagOf["GET /.well-known/jwks.json"]);
    }

    [Fact]
    public async Task OpenApi_Tags_AreListedInReadingOrderWithDescriptions()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/openapi.json");
        JsonElement doc = await HttpAssert.OkJsonAsync(response);

        JsonElement[] tags = [.. doc.GetProperty("tags").EnumerateArray()];
        Assert.Equal(TagsInOrder, tags.Select(t => t.GetProperty("name").GetString()));
        foreach (JsonElement tag in tags)
            Assert.False(string.IsNullOrWhiteSpace(tag.GetProperty("description").GetString()), tag.GetRawText());
    }

    [Fact]
    public async Task Docs_DocumentUrl_IsTheCleanAbsolutePath()
    {
        // index.js carries the UI's configuration; Swagger UI shows the document's URL from it, under the title.
        using HttpResponseMessage script = await _server.Client.GetAsync("/docs/index.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Match config = Regex.Match(await script.Content.ReadAsStringAsync(), @"var configObject = (\{.*\});");
        Assert.True(config.Success, "no configObject in /docs/index.js");

        JsonElement url = Assert.Single(JsonDocument.Parse(config.Groups[1].Value).RootElement.GetProperty("urls").EnumerateArray());
        Assert.Equal("/openapi.json", url.GetProperty("url").GetString());
        using HttpResponseMessage document = await _server.Client.GetAsync(url.GetProperty("url").GetString());
        await HttpAssert.OkJsonAsync(document);
    }

    [Fact]
    public async Task Docs_Default_ServesSwaggerUi()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/docs/index.html");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains("swagger-ui", html);
        // A phone lays the page out at its own width instead of shrinking the desktop layout.
        Assert.Contains("""<meta name="viewport" content="width=device-width, initial-scale=1">""", html);
    }

    [Theory]
    [InlineData("/docs")]
    [InlineData("/docs/index.html")]
    [InlineData("/openapi.json")]
    public async Task Docs_Disabled_AreNotFound(string path)
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.Docs.Enabled = false);

        using HttpResponseMessage response = await server.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>The property names of a response's JSON schema, following a <c>$ref</c> into components.</summary>
    private static IEnumerable<string?> PropertiesOf(JsonElement doc, JsonElement response)
    {
        JsonElement schema = response.GetProperty("content").GetProperty("application/json").GetProperty("schema");
        if (schema.TryGetProperty("$ref", out JsonElement reference))
            schema = doc.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]);
        return schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToList();
    }
}
