using Latchkey.Accounts;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>A user as the admin API shows it: never the password hash.</summary>
internal sealed record UserSummary(string Id, string Username, IReadOnlyList<string> Roles, bool Disabled, DateTimeOffset CreatedAt);

/// <summary><c>/admin/users</c>: user administration, for tokens with role <c>admin</c>.</summary>
internal static class UsersApi
{
    public static void MapUsersApi(this IEndpointRouteBuilder routes)
    {
        RouteGroupBuilder admin = routes.MapGroup("/admin/users").RequireAuthorization(LatchkeyPolicies.Admin);
        admin.MapGet("/", ListUsersAsync).WithName("ListUsers").WithSummary("Every user, without password hashes.");
    }

    private static async Task<JsonHttpResult<UserSummary[]>> ListUsersAsync(UserAccounts accounts, CancellationToken cancellationToken)
    {
        var users = await accounts.ListAsync(cancellationToken);
        return TypedResults.Json(users.Select(u => new UserSummary(u.Id, u.Username, u.Roles, u.Disabled, u.CreatedAt)).ToArray(),
            LatchkeyJsonContext.Default.UserSummaryArray);
    }
}
