using System.Security.Claims;
using System.Text.Json.Serialization;
using Latchkey.Clients;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>
/// A client as the admin API lists it: never its secret or the secret's hash. <c>introspection</c>: null (may not call
/// /introspect), <c>any</c> or <c>audience</c> (only tokens for its own audience); <c>public</c>: it has no secret (the built-in
/// first-party client, a single-page or native app); <c>first_party</c>: its users are not asked to consent;
/// <c>id_token_signed_response_alg</c>: the algorithm of its id tokens; <c>require_mfa</c>: its users sign in with two factors.
/// </summary>
internal sealed record ClientSummary(string ClientId, IReadOnlyList<string> GrantTypes, IReadOnlyList<string> Scopes, string? Audience, bool Disabled,
    DateTimeOffset CreatedAt, string? Introspection, bool Public, IReadOnlyList<string> RedirectUris, IReadOnlyList<string> PostLogoutRedirectUris,
    bool FirstParty, string IdTokenSignedResponseAlg, bool RequireMfa)
{
    public static ClientSummary From(ClientRegistration c) => new(c.ClientId, c.GrantTypes, c.Scopes, c.Audience, c.Disabled, c.CreatedAt, c.Introspection, c.IsPublic,
        c.RedirectUris, c.PostLogoutRedirectUris, c.FirstParty, c.IdTokenSignedResponseAlg, c.RequireMfa);
}

/// <summary>A newly registered client with its secret, shown this once (none for a public client).</summary>
internal sealed record ClientCreated(string ClientId, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClientSecret,
    IReadOnlyList<string> GrantTypes, IReadOnlyList<string> Scopes, string? Audience, string? Introspection, IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> PostLogoutRedirectUris, bool Public, bool FirstParty, string IdTokenSignedResponseAlg, bool RequireMfa);

/// <summary>A client's new secret, shown this once.</summary>
internal sealed record ClientSecretIssued(string ClientId, string ClientSecret);

/// <summary>The body of <c>POST /admin/clients</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record CreateClientRequest(string? ClientId, string?[]? GrantTypes, string?[]? Scopes, string? Audience, string? Introspection,
    string?[]? RedirectUris = null, string?[]? PostLogoutRedirectUris = null, bool Public = false, bool FirstParty = false,
    string? IdTokenSignedResponseAlg = null, bool RequireMfa = false);

/// <summary>The body of <c>POST /admin/clients/{clientId}/scopes</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record ChangeScopesRequest(string?[]? Add, string?[]? Remove);

/// <summary>
/// <c>/admin/clients</c>: client registration, for admin tokens (<see cref="AdminAccessHandler"/>). Every change goes through
/// <see cref="ClientAccounts"/>, the same code as <c>latchkey clients</c>, and is audited with the admin's name.
/// </summary>
internal static class ClientsApi
{
    public static void MapClientsApi(this IEndpointRouteBuilder routes)
    {
        RouteGroupBuilder admin = routes.MapGroup("/admin/clients").RequireAuthorization(LatchkeyPolicies.Admin);
        admin.MapGet("/", ListClientsAsync).WithName("ListClients").WithSummary("Every registered client, without secrets.");
        admin.MapPost("/", CreateClientAsync).WithName("CreateClient").WithSummary("Register a client: 201 with its secret, shown once.")
            .Produces<ClientCreated>(StatusCodes.Status201Created);
        admin.MapPost("/{clientId}/rotate-secret", RotateSecretAsync).WithName("RotateClientSecret").WithSummary("Replace a client's secret; the old one stops working.");
        admin.MapPost("/{clientId}/scopes", ChangeScopesAsync).WithName("ChangeClientScopes")
            .WithSummary("Add and remove the scopes a client may request; a removed scope is dropped from its logins at their next refresh.");
        admin.MapPost("/{clientId}/disable", DisableClientAsync).WithName("DisableClient")
            .WithSummary("Disable a client: its tokens issued until now are refused, its refresh tokens revoked.");
        admin.MapPost("/{clientId}/enable", EnableClientAsync).WithName("EnableClient").WithSummary("Enable a disabled client.");
        admin.MapDelete("/{clientId}", RemoveClientAsync).WithName("RemoveClient")
            .WithSummary("Remove a client: its tokens issued until now are refused, its refresh tokens revoked.");
    }

    private static async Task<JsonHttpResult<ClientSummary[]>> ListClientsAsync(ClientAccounts clients, CancellationToken cancellationToken)
    {
        var all = await clients.ListAsync(cancellationToken);
        return TypedResults.Json(all.Select(ClientSummary.From).ToArray(), AdminJsonContext.Default.ClientSummaryArray);
    }

    private static async Task<Results<JsonHttpResult<ClientCreated>, ProblemHttpResult>> CreateClientAsync(
        HttpContext http, ClientAccounts clients, CancellationToken cancellationToken)
    {
        (CreateClientRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(http.Request, AdminJsonContext.Default.CreateClientRequest, cancellationToken);
        if (body is null)
            return problem!;
        if (body.ClientId is null)
            return AdminRequests.BadRequest("Give the client_id.");
        if (AdminRequests.HasNull(body.GrantTypes) || AdminRequests.HasNull(body.Scopes) || AdminRequests.HasNull(body.RedirectUris) ||
            AdminRequests.HasNull(body.PostLogoutRedirectUris))
            return AdminRequests.BadRequest("grant_types, scopes, redirect_uris and post_logout_redirect_uris must be lists of strings.");

        var browser = new BrowserSettings(body.RedirectUris?.OfType<string>().ToArray() ?? [], body.PostLogoutRedirectUris?.OfType<string>().ToArray() ?? [],
            body.Public, body.FirstParty)
        { IdTokenAlgorithm = body.IdTokenSignedResponseAlg, RequireMfa = body.RequireMfa };
        ClientResult result = await clients.AddAsync(body.ClientId, body.GrantTypes?.OfType<string>().ToArray() ?? [], body.Scopes?.OfType<string>().ToArray() ?? [],
            body.Audience, AdminRequests.Actor(http.User), cancellationToken, body.Introspection, browser);
        if (!result.Succeeded)
            return AdminRequests.Refused(result.Failure, result.Error!);
        ClientRegistration c = result.Client!;
        // The secret is in this response only: no cache may keep it.
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(new ClientCreated(c.ClientId, result.Secret, c.GrantTypes, c.Scopes, c.Audience, c.Introspection, c.RedirectUris,
            c.PostLogoutRedirectUris, c.IsPublic, c.FirstParty, c.IdTokenSignedResponseAlg, c.RequireMfa), AdminJsonContext.Default.ClientCreated, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<Results<JsonHttpResult<ClientSecretIssued>, ProblemHttpResult>> RotateSecretAsync(
        string clientId, HttpContext http, ClientAccounts clients, CancellationToken cancellationToken)
    {
        ClientResult result = await clients.RotateSecretAsync(clientId, AdminRequests.Actor(http.User), cancellationToken);
        if (!result.Succeeded)
            return AdminRequests.Refused(result.Failure, result.Error!);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(new ClientSecretIssued(clientId, result.Secret!), AdminJsonContext.Default.ClientSecretIssued);
    }

    private static async Task<Results<JsonHttpResult<ClientSummary>, ProblemHttpResult>> ChangeScopesAsync(
        string clientId, HttpRequest request, ClientAccounts clients, CancellationToken cancellationToken)
    {
        (ChangeScopesRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.ChangeScopesRequest, cancellationToken);
        if (body is null)
            return problem!;
        if (AdminRequests.HasNull(body.Add) || AdminRequests.HasNull(body.Remove))
            return AdminRequests.BadRequest("add and remove must be lists of strings.");
        return await SummaryOrProblemAsync(clientId, clients.ChangeScopesAsync(clientId, body.Add?.OfType<string>().ToArray() ?? [],
            body.Remove?.OfType<string>().ToArray() ?? [], AdminRequests.Actor(request.HttpContext.User), cancellationToken));
    }

    private static Task<Results<JsonHttpResult<ClientSummary>, ProblemHttpResult>> DisableClientAsync(
        string clientId, ClaimsPrincipal user, ClientAccounts clients, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(clientId, clients.SetDisabledAsync(clientId, true, AdminRequests.Actor(user), cancellationToken));

    private static Task<Results<JsonHttpResult<ClientSummary>, ProblemHttpResult>> EnableClientAsync(
        string clientId, ClaimsPrincipal user, ClientAccounts clients, CancellationToken cancellationToken) =>
        SummaryOrProblemAsync(clientId, clients.SetDisabledAsync(clientId, false, AdminRequests.Actor(user), cancellationToken));

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveClientAsync(
        string clientId, ClaimsPrincipal user, ClientAccounts clients, CancellationToken cancellationToken)
    {
        ClientResult result = await clients.RemoveAsync(clientId, AdminRequests.Actor(user), cancellationToken);
        return result.Succeeded ? TypedResults.NoContent() : AdminRequests.Refused(result.Failure, result.Error!);
    }

    private static async Task<Results<JsonHttpResult<ClientSummary>, ProblemHttpResult>> SummaryOrProblemAsync(string clientId, Task<ClientResult> change)
    {
        ClientResult result = await change;
        // A client removed between the change and the read back is gone: say so rather than answer 200 with nothing.
        return result is { Succeeded: true, Client: { } client }
            ? TypedResults.Json(ClientSummary.From(client), AdminJsonContext.Default.ClientSummary)
            : AdminRequests.Refused(result.Failure ?? Accounts.ChangeFailure.NotFound, result.Error ?? $"No client named '{clientId}'.");
    }
}
