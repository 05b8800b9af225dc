// A resource server: a stock ASP.NET Core API that accepts Latchkey's access tokens with nothing Latchkey-specific.
// JwtBearer reads the issuer and the signing keys (JWKS) from {Authority}/.well-known/openid-configuration, and maps
// the `role` claim to roles, so RequireRole works as [Authorize(Roles = "admin")] does on a controller.
//
//   dotnet run --project samples/ProtectedApi -- --Latchkey:Authority http://localhost:5000 --Latchkey:Audience api
//   curl -H "Authorization: Bearer $TOKEN" http://localhost:5001/hello
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;

var builder = WebApplication.CreateBuilder(args);

// Where Latchkey runs (its Issuer, exactly) and the audience this API answers to (`aud`).
string authority = builder.Configuration["Latchkey:Authority"] ?? "http://localhost:5000";
string audience = builder.Configuration["Latchkey:Audience"] ?? "api";

// The keys fetched from the Authority decide which tokens are genuine, so they must come over https. Plain http is
// allowed only for a Latchkey on this machine (development, the tests): anyone on the path could swap the keys.
if (!Uri.TryCreate(authority, UriKind.Absolute, out Uri? authorityUri)
    || !(authorityUri.Scheme == Uri.UriSchemeHttps || (authorityUri.Scheme == Uri.UriSchemeHttp && authorityUri.IsLoopback)))
{
    Console.Error.WriteLine($"Latchkey:Authority '{authority}' must be an https URL; plain http is allowed only for localhost, 127.x or ::1.");
    return 1;
}

builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
{
    options.Authority = authority;
    options.Audience = audience;
    // Checked above: http here means a loopback Authority.
    options.RequireHttpsMetadata = authorityUri.Scheme == Uri.UriSchemeHttps;
});
builder.Services.AddAuthorization();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/hello", Hello).RequireAuthorization();
app.MapGet("/admin", Admin).RequireAuthorization(policy => policy.RequireRole("admin"));

app.Run();
return 0;

// Any valid token.
static IResult Hello(ClaimsPrincipal user) => TypedResults.Ok(Caller("hello", user));

// Tokens whose `role` includes "admin"; everyone else gets 403.
static IResult Admin(ClaimsPrincipal user) => TypedResults.Ok(Caller("admin", user));

// JwtBearer maps `sub` to ClaimTypes.NameIdentifier; `preferred_username` keeps its name (client_credentials tokens have none).
static CallerInfo Caller(string endpoint, ClaimsPrincipal user) => new(
    endpoint,
    user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.FindFirstValue("sub"),
    user.FindFirstValue("preferred_username"),
    [.. user.FindAll(ClaimTypes.Role).Select(c => c.Value)]);

/// <summary>What the endpoints answer: who called.</summary>
internal sealed record CallerInfo(string Endpoint, string? Sub, string? Name, string[] Roles);
