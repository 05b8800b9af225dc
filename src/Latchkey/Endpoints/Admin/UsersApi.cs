using System.Security.Claims;
using System.Text.Json.Serialization;
using Latchkey.Accounts;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>
/// A user as the admin API shows it: never the password hash. <c>tokens_valid_after</c>: Latchkey refuses their tokens
/// issued at or before it (the last disable, role or password change, or logout).
/// </summary>
internal sealed record UserSummary(string Id, string Username, IReadOnlyList<string> Roles, bool Disabled, DateTimeOffset CreatedAt, DateTimeOffset? TokensValidAfter,
    string? Email, bool EmailVerified, string? Name)
{
    public static UserSummary From(UserAccount u) => new(u.Id, u.Username, u.Roles, u.Disabled, u.CreatedAt, u.TokensValidAfter, u.Email, u.EmailVerified, u.Name);
}

/// <summary>The body of <c>POST /admin/users</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record CreateUserRequest(string? Username, string? Password, string?[]? Roles, string? Email = null, string? Name = null, bool EmailVerified = false);

/// <summary>The body of <c>POST /admin/users/{username}/profile</c>: the whole profile (an absent field is cleared).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record SetProfileRequest(string? Email, string? Name, bool EmailVerified = false);

/// <summary>The body of <c>POST /admin/users/{username}/roles</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record ChangeRolesRequest(string?[]? Add, string?[]? Remove);

/// <summary>The body of <c>POST /admin/users/{username}/password</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record SetPasswordRequest(string? Password);

/// <summary>
/// <c>/admin/users</c>: user administration, for admin tokens (<see cref="AdminAccessHandler"/>). Every change goes through
/// <see cref="UserAccounts"/>, the same code as <c>latchkey users</c>, so the two cannot drift.
/// </summary>
internal static class UsersApi
{
    public static void MapUsersApi(this IEndpointRouteBuilder routes)
    {
        RouteGroupBuilder admin = routes.MapGroup("/admin/users").RequireAuthorization(LatchkeyPolicies.Admin);
        admin.MapGet("/", ListUsersAsync).WithName("ListUsers").WithSummary("Every user, without password hashes.");
        admin.MapPost("/", CreateUserAsync).WithName("CreateUser").WithSummary("Create a user: 201, 400 for invalid input, 409 for a taken name.")
            .Produces<UserSummary>(StatusCodes.Status201Created);
        admin.MapPost("/{username}/disable", DisableUserAsync).WithName("DisableUser")
            .WithSummary("Disable a user: their tokens issued until now are refused, their refresh tokens revoked.");
        admin.MapPost("/{username}/enable", EnableUserAsync).WithName("EnableUser").WithSummary("Enable a disabled user.");
        admin.MapPost("/{username}/roles", ChangeRolesAsync).WithName("ChangeUserRoles")
            .WithSummary("Add and remove roles; the user's tokens issued until now are refused, their refresh tokens revoked.");
        admin.MapPost("/{username}/password", SetPasswordAsync).WithName("SetUserPassword")
            .WithSummary("Set a user's password; their tokens issued until now are refused, their refresh tokens revoked.");
        admin.MapPost("/{username}/profile", SetProfileAsync).WithName("SetUserProfile")
            .WithSummary("Set the user's e-mail address and name, which apps see with the email and profile scopes.");
        admin.MapGet("/{username}/consents", ListConsentsAsync).WithName("ListUserConsents")
            .WithSummary("The consents the user gave third-party apps: which client, which scopes, since when.");
        admin.MapDelete("/{username}/consents/{clientId}", RevokeConsentAsync).WithName("RevokeUserConsent")
            .WithSummary("Withdraw a consent: the app's refresh tokens for the user are revoked, and the next sign-in asks again.");
        admin.MapPost("/{username}/mfa/reset", ResetMfaAsync).WithName("ResetUserMfa")
            .WithSummary("Remove the user's second factors and recovery codes, once who they are has been checked another way; audited.");
        admin.MapPost("/{username}/logout", LogoutUserAsync).WithName("LogoutUser")
            .WithSummary("Log a user out everywhere: their tokens issued until now are refused, their refresh tokens revoked.");
    }

    private static async Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> SetProfileAsync(
        string username, HttpRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        (SetProfileRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.SetProfileRequest, cancellationToken);
        if (body is null)
            return problem!;
        return await SummaryOrProblemAsync(accounts.SetProfileAsync(username, new UserProfile(body.Email, body.Name, body.EmailVerified),
            AdminRequests.Actor(request.HttpContext.User), cancellationToken));
    }

    private static async Task<Results<JsonHttpResult<ConsentEntry[]>, ProblemHttpResult>> ListConsentsAsync(string username, Consents consents,
        CancellationToken cancellationToken) =>
        await consents.ListAsync(username, cancellationToken) is { } list
            ? TypedResults.Json(list.ToArray(), AdminJsonContext.Default.ConsentEntryArray)
            : AdminRequests.Refused(ChangeFailure.NotFound, $"No user named '{username}'.");

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeConsentAsync(string username, string clientId, ClaimsPrincipal user, Consents consents,
        CancellationToken cancellationToken)
    {
        (string? error, ChangeFailure? failure) = await consents.RevokeAsync(username, clientId, AdminRequests.Actor(user), cancellationToken);
        return error is null ? TypedResults.NoContent() : AdminRequests.Refused(failure, error);
    }

    private static async Task<JsonHttpResult<UserSummary[]>> ListUsersAsync(UserAccounts accounts, CancellationToken cancellationToken)
    {
        var users = await accounts.ListAsync(cancellationToken);
        return TypedResults.Json(users.Select(UserSummary.From).ToArray(), AdminJsonContext.Default.UserSummaryArray);
    }

    private static async Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> CreateUserAsync(
        HttpRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        (CreateUserRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.CreateUserRequest, cancellationToken);
        if (body is null)
            return problem!;
        if (body.Username is null || body.Password is null)
            return AdminRequests.BadRequest("Give both username and password.");
        if (AdminRequests.HasNull(body.Roles))
            return AdminRequests.BadRequest("roles must be a list of strings.");

        AccountResult result = await accounts.AddAsync(body.Username, body.Password, body.Roles?.OfType<string>() ?? [], AdminRequests.Actor(request.HttpContext.User),
            cancellationToken, new UserProfile(body.Email, body.Name, body.EmailVerified));
        return result.Succeeded
            ? TypedResults.Json(UserSummary.From(result.User!), AdminJsonContext.Default.UserSummary, statusCode: StatusCodes.Status201Created)
            : AdminRequests.Refused(result.Failure, result.Error!);
    }

    private static Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> DisableUserAsync(
        string username, ClaimsPrincipal user, UserAccounts accounts, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(accounts.SetDisabledAsync(username, true, AdminRequests.Actor(user), cancellationToken));

    private static Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> EnableUserAsync(
        string username, ClaimsPrincipal user, UserAccounts accounts, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(accounts.SetDisabledAsync(username, false, AdminRequests.Actor(user), cancellationToken));

    private static Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> ResetMfaAsync(
        string username, ClaimsPrincipal user, UserAccounts accounts, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(accounts.ResetSecondFactorsAsync(username, AdminRequests.Actor(user), cancellationToken));

    private static Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> LogoutUserAsync(
        string username, ClaimsPrincipal user, UserAccounts accounts, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(accounts.LogoutAsync(username, AdminRequests.Actor(user), cancellationToken));

    private static async Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> ChangeRolesAsync(
        string username, HttpRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        (ChangeRolesRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.ChangeRolesRequest, cancellationToken);
        if (body is null)
            return problem!;
        if (AdminRequests.HasNull(body.Add) || AdminRequests.HasNull(body.Remove))
            return AdminRequests.BadRequest("add and remove must be lists of strings.");
        return await SummaryOrProblemAsync(accounts.ChangeRolesAsync(username, body.Add?.OfType<string>() ?? [], body.Remove?.OfType<string>() ?? [],
            AdminRequests.Actor(request.HttpContext.User), cancellationToken));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetPasswordAsync(
        string username, HttpRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        (SetPasswordRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.SetPasswordRequest, cancellationToken);
        if (body is null)
            return problem!;
        if (body.Password is null)
            return AdminRequests.BadRequest("Give the new password.");
        AccountResult result = await accounts.SetPasswordAsync(username, body.Password, AdminRequests.Actor(request.HttpContext.User), cancellationToken);
        return result.Succeeded ? TypedResults.NoContent() : AdminRequests.Refused(result.Failure, result.Error!);
    }

    private static async Task<Results<JsonHttpResult<UserSummary>, ProblemHttpResult>> SummaryOrProblemAsync(Task<AccountResult> change)
    {
        AccountResult result = await change;
        return result.Succeeded
            ? TypedResults.Json(UserSummary.From(result.User!), AdminJsonContext.Default.UserSummary)
            : AdminRequests.Refused(result.Failure, result.Error!);
    }
}
