using System.Buffers;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Protocol;
using Latchkey.Tokens;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>GET /me</c>: the claims of the caller's valid access token. <c>GET /userinfo</c>: for a token with the <c>openid</c>
/// scope, the OpenID Connect UserInfo response (Core §5.3): <c>sub</c>, and what the token's scopes show of the user as they are
/// now (<c>profile</c>: <c>preferred_username</c>, <c>name</c>; <c>email</c>: <c>email</c>, <c>email_verified</c>); for any
/// other token, its claims, as <c>/me</c> (what the seed tutorial's readers have used it for).
/// </summary>
internal static class UserInfoEndpoint
{
    public static void MapUserInfoEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/me", Me).RequireAuthorization(LatchkeyPolicies.Bearer).WithName("Me").WithSummary("The claims of your access token.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
        routes.MapGet("/userinfo", UserInfoAsync).RequireAuthorization(LatchkeyPolicies.Bearer).WithName("UserInfo")
            .WithSummary("Who you are (OpenID Connect UserInfo) for a token with scope openid; otherwise the claims of your access token.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
    }

    private static IResult Me(HttpContext http)
    {
        var claims = (JsonElement)http.Items[BearerAuthenticationHandler.ClaimsItemKey]!;
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(claims, LatchkeyJsonContext.Default.JsonElement);
    }

    private static async Task<IResult> UserInfoAsync(HttpContext http, UserAccounts users, CancellationToken cancellationToken)
    {
        var claims = (JsonElement)http.Items[BearerAuthenticationHandler.ClaimsItemKey]!;
        IReadOnlyList<string> scopes = claims.TryGetProperty(LatchkeyClaims.Scope, out JsonElement scope) && scope.ValueKind == JsonValueKind.String
            ? Scopes.Parse(scope.GetString()) ?? []
            : [];
        if (!scopes.Contains(Scopes.OpenId))
            return Me(http);

        string subject = claims.GetProperty(LatchkeyClaims.Subject).GetString()!;
        // The token was checked against the user's cut-offs; a user removed since has nothing to show.
        if (await users.FindByIdAsync(subject, cancellationToken) is not { Disabled: false } user)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\", error_description=\"The user no longer exists.\"";
            return TypedResults.Unauthorized();
        }

        var body = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString(LatchkeyClaims.Subject, user.Id);
            IdTokenIssuer.WriteProfile(writer, scopes, user.Username, user.Name, user.Email, user.EmailVerified);
            writer.WriteEndObject();
        }

        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Bytes(body.WrittenMemory.ToArray(), "application/json");
    }
}
