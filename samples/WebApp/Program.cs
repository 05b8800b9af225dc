// A web app that signs its users in with Latchkey: ASP.NET Core's stock OpenID Connect handler (authorization code flow
// with PKCE, the handler's default) and a cookie session, nothing Latchkey-specific. It shows the id token's claims, calls
// samples/ProtectedApi with the user's access token, and signs out through Latchkey's end_session_endpoint.
//
//   latchkey clients add webapp --grant authorization_code --grant refresh_token --scope api --first-party \
//     --redirect-uri http://localhost:5002/signin-oidc --post-logout-redirect-uri http://localhost:5002/signout-callback-oidc
//   dotnet run --project samples/WebApp -- --urls http://localhost:5002 --Latchkey:Authority http://localhost:5000 \
//     --Latchkey:ClientSecret lk_cs_… --Api:BaseAddress http://localhost:5001
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;

var builder = WebApplication.CreateBuilder(args);
// The web template's logging (its appsettings.json): the framework's request lines only from warnings up.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

string authority = builder.Configuration["Latchkey:Authority"] ?? "http://localhost:5000";
string clientId = builder.Configuration["Latchkey:ClientId"] ?? "webapp";
string? clientSecret = builder.Configuration["Latchkey:ClientSecret"];
string apiBase = builder.Configuration["Api:BaseAddress"] ?? "http://localhost:5001";

// The handler trusts the keys and endpoints it fetches from the Authority, so they must come over https. Plain http is
// allowed only for a Latchkey on this machine (development, the tests).
if (!Uri.TryCreate(authority, UriKind.Absolute, out Uri? authorityUri)
    || !(authorityUri.Scheme == Uri.UriSchemeHttps || (authorityUri.Scheme == Uri.UriSchemeHttp && authorityUri.IsLoopback)))
{
    Console.Error.WriteLine($"Latchkey:Authority '{authority}' must be an https URL; plain http is allowed only for localhost, 127.x or ::1.");
    return 1;
}

if (string.IsNullOrEmpty(clientSecret))
{
    Console.Error.WriteLine("Give the client's secret: --Latchkey:ClientSecret (from `latchkey clients add … --json`).");
    return 1;
}

builder.Services.AddAuthentication(options =>
    {
        options.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        options.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
    })
    .AddCookie()
    .AddOpenIdConnect(options =>
    {
        options.Authority = authority;
        options.RequireHttpsMetadata = authorityUri.Scheme == Uri.UriSchemeHttps; // checked above: http means loopback
        options.ClientId = clientId;
        options.ClientSecret = clientSecret;
        options.ResponseType = "code"; // with PKCE (UsePkce is on by default)
        options.Scope.Clear();
        foreach (string scope in new[] { "openid", "profile", "email", "api" })
            options.Scope.Add(scope);
        options.SaveTokens = true; // keeps the access token (for the API) and the id token (the hint at sign-out)
        options.MapInboundClaims = false; // the claims keep their JWT names: sub, preferred_username, email
        options.TokenValidationParameters.NameClaimType = "preferred_username";
        options.ClaimActions.Remove("acr"); // the handler drops acr by default; keep it, as the level of the sign-in
        // Latchkey's refusal (access_denied, invalid_scope, …) is shown on the home page, not thrown as a 500.
        options.Events.OnRemoteFailure = context =>
        {
            context.Response.Redirect("/?error=" + Uri.EscapeDataString(context.Failure?.Message ?? "sign-in failed"));
            context.HandleResponse();
            return Task.CompletedTask;
        };
    });
builder.Services.AddAuthorization();
builder.Services.AddAntiforgery();
builder.Services.AddHttpClient("api", http => http.BaseAddress = new Uri(apiBase));

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapGet("/", Home);
app.MapGet("/signin", () => Results.Challenge(new AuthenticationProperties { RedirectUri = "/" }));
app.MapGet("/api", CallApiAsync).RequireAuthorization();
app.MapPost("/signout", () => Results.SignOut(new AuthenticationProperties { RedirectUri = "/" },
    [CookieAuthenticationDefaults.AuthenticationScheme, OpenIdConnectDefaults.AuthenticationScheme])).RequireAuthorization();

app.Run();
return 0;

// Signed out: a link to sign in. Signed in: the id token's claims, a link to the API, a sign-out button.
static IResult Home(HttpContext http, IAntiforgery antiforgery)
{
    HtmlEncoder e = HtmlEncoder.Default;
    if (http.User.Identity?.IsAuthenticated != true)
    {
        string error = http.Request.Query["error"] is { Count: 1 } e1 ? $"<p role=\"alert\">Sign-in failed: {e.Encode(e1.ToString())}</p>" : "";
        return Page("Sample web app", error + "<p>You are not signed in.</p><p><a href=\"/signin\">Sign in with Latchkey</a></p>");
    }
    string rows = string.Concat(http.User.Claims.Select(c => $"<tr><th scope=\"row\">{e.Encode(c.Type)}</th><td>{e.Encode(c.Value)}</td></tr>"));
    // How the user signed in (amr, RFC 8176: pwd, otp, mfa, …): an app can ask for more with acr_values.
    string methods = string.Join(", ", http.User.FindAll("amr").Select(c => c.Value));
    AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
    return Page("Sample web app", $"""
        <p>Signed in as <strong id="user">{e.Encode(http.User.Identity.Name ?? "")}</strong>, with <strong id="amr">{e.Encode(methods)}</strong>.</p>
        <table><caption>The id token's claims</caption>{rows}</table>
        <p><a href="/api">Call the API with my access token</a></p>
        <form method="post" action="/signout"><input type="hidden" name="{tokens.FormFieldName}" value="{tokens.RequestToken}"><button type="submit">Sign out</button></form>
        """);
}

// samples/ProtectedApi, called with the access token Latchkey issued at sign-in.
static async Task<IResult> CallApiAsync(HttpContext http, IHttpClientFactory clients)
{
    string? accessToken = await http.GetTokenAsync("access_token");
    using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
    using HttpResponseMessage response = await clients.CreateClient("api").SendAsync(request);
    string body = await response.Content.ReadAsStringAsync();
    return Page("The API answered", $"<p>GET /hello: <span id=\"status\">{(int)response.StatusCode}</span></p><pre id=\"body\">{HtmlEncoder.Default.Encode(body)}</pre><p><a href=\"/\">Back</a></p>");
}

static IResult Page(string title, string body) => Results.Content(
    $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\"><title>{title}</title></head>" +
    $"<body><h1>{title}</h1>{body}</body></html>", "text/html; charset=utf-8");
