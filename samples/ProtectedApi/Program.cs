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

builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
{
    options.Authority = authority;
    options.Audience = audience;
    // The keys are fetched from the Authority, so they must come over https: production uses an https Authority.
    // Plain http is allowed only when the configured Authority itself is http (a local Latchkey, the tests).
    options.RequireHttpsMetadata = !authority.StartsWith("http://", StringComparison.OrdinalIgnoreCase);
});
builder.Services.AddAuthorization();

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/hello", Hello).RequireAuthorization();
app.MapGet("/admin", Admin).RequireAuthorization(policy => policy.RequireRole("admin"));

app.Run();

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
