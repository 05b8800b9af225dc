using System.Text.Json;
using Latchkey.Protocol;
using Latchkey.Tokens;

namespace Latchkey.Endpoints;

/// <summary><c>GET /me</c> and <c>GET /userinfo</c>: the claims of the caller's valid access token.</summary>
internal static class UserInfoEndpoint
{
    public static void MapUserInfoEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/me", Handle).RequireAuthorization(LatchkeyPolicies.Bearer).WithName("Me").WithSummary("The claims of your access token.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
        routes.MapGet("/userinfo", Handle).RequireAuthorization(LatchkeyPolicies.Bearer).WithName("UserInfo").WithSummary("The claims of your access token.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json");
    }

    private static IResult Handle(HttpContext http)
    {
        var claims = (JsonElement)http.Items[BearerAuthenticationHandler.ClaimsItemKey]!;
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(claims, LatchkeyJsonContext.Default.JsonElement);
    }
}
