using System.Text.Json.Nodes;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>GET /openapi.json</c> (OpenAPI 3.1, generated from the endpoints by Microsoft.AspNetCore.OpenApi) and the
/// interactive UI at <c>/docs</c>. Both only when <see cref="DocsOptions.Enabled"/>.
/// </summary>
internal static class ApiDocs
{
    public const string DocumentPath = "/openapi.json";
    public const string UiPath = "/docs";

    /// <summary>The name of the security scheme in the document; operations that need a token refer to it.</summary>
    private const string OAuth2Scheme = "oauth2";

    private const string FormContentType = "application/x-www-form-urlencoded";

    public static IServiceCollection AddLatchkeyOpenApi(this IServiceCollection services) =>
        services
            // The document's schemas are read from the app's JSON options. Without reflection (Native AOT) they know
            // only the types some source-generated context lists: ours come after the defaults, which stay first.
            .ConfigureHttpJsonOptions(json =>
            {
                json.SerializerOptions.TypeInfoResolverChain.Add(LatchkeyJsonContext.Default);
                json.SerializerOptions.TypeInfoResolverChain.Add(EndpointsJsonContext.Default);
                json.SerializerOptions.TypeInfoResolverChain.Add(Admin.AdminJsonContext.Default);
            })
            .AddOpenApi(o =>
            {
                o.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
                o.AddDocumentTransformer(DescribeDocumentAsync);
                o.AddDocumentTransformer(GroupByTaskAsync);
                o.AddOperationTransformer(RequireTokenAsync);
            });

    public static void MapApiDocs(this IEndpointRouteBuilder routes)
    {
        routes.MapOpenApi(DocumentPath);

        // Swagger UI rather than Scalar: its "Authorize" dialog implements the OAuth2 password flow as the spec
        // describes it (username, password and client credentials posted to tokenUrl as a form), keeps the token and
        // sends it as "Authorization: Bearer" on every "Try it out" of an operation that lists the scheme. Its assets
        // are embedded in the package, so /docs works with no CDN, and its stable element ids keep the browser test simple.
        routes.MapSwaggerUI(UiPath.TrimStart('/'), ui =>
        {
            // Root-absolute, as the UI shows it: a relative URL is shown as ".../docs/../openapi.json". Like the
            // document's tokenUrl (/token), it assumes the app is not mounted under a PathBase.
            ui.SwaggerEndpoint(DocumentPath, "Latchkey");
            ui.DocumentTitle = "Latchkey API";
            // Swagger UI's page has no viewport of its own: without one a phone shows the desktop layout shrunk to fit.
            ui.HeadContent = """<meta name="viewport" content="width=device-width, initial-scale=1">""";
            // The public first-party client: with it, Swagger UI's default "Authorization header" client
            // authentication sends "default:" (no secret), which /token accepts; an empty client id would not parse.
            ui.OAuthClientId(Clients.Client.FirstPartyClientId);
            ui.EnableTryItOutByDefault();
        });
    }

    /// <summary>Title, and the password flow against <c>/token</c> that the UI's "Authorize" button uses.</summary>
    private static Task DescribeDocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        LatchkeyOptions options = context.ApplicationServices.GetRequiredService<IOptions<LatchkeyOptions>>().Value;
        document.Info.Title = "Latchkey";
        document.Info.Description =
            "OAuth 2.0 token service issuing JWT access tokens. Log in with \"Authorize\" (the password grant at /token), " +
            "then call /me. Errors of /token, /revoke and /introspect are RFC 6749 §5.2 JSON: {\"error\", \"error_description\"}.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[OAuth2Scheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.OAuth2,
            Description = "Resource owner password credentials (RFC 6749 §4.3). The access token is sent as a Bearer token.",
            Flows = new OpenApiOAuthFlows
            {
                Password = new OpenApiOAuthFlow
                {
                    // Relative: resolved against the server the document was fetched from (OpenAPI 3.1 §4.8.29).
                    TokenUrl = new Uri("/token", UriKind.Relative),
                    RefreshUrl = new Uri("/token", UriKind.Relative),
                    Scopes = options.Scopes.Where(s => s != Protocol.Scopes.Admin).ToDictionary(s => s, s => $"The '{s}' scope.")
                        .Append(new KeyValuePair<string, string>(Protocol.Scopes.Admin, "Latchkey's admin API (/admin), alone: for an admin's token, whose audience is Latchkey itself."))
                        .ToDictionary(),
                },
            },
        };
        return Task.CompletedTask;
    }

    /// <summary>
    /// The groups of the document and of /docs, in reading order: what a reader comes to do. Without them, minimal APIs
    /// tag each operation with its handler's class name (TokenEndpoint, SeedTokenEndpoint, …).
    /// </summary>
    private static readonly (string Name, string Description, Func<string, bool> HoldsPath)[] TagsInOrder =
    [
        ("Tokens", "Get an access token (authorization code, password, client credentials or refresh token grant), then revoke or introspect it.",
            path => path is "/token" or "/revoke" or "/introspect"),
        ("Signed-in user", "Who an access token belongs to: its claims, as /me or as OpenID Connect's /userinfo.",
            path => path is "/me" or "/userinfo"),
        ("Administration", $"Users, clients, signing keys and the audit log; needs an admin's token with scope {Protocol.Scopes.Admin}.",
            path => path.StartsWith("/admin/", StringComparison.Ordinal)),
        ("Discovery and keys", "Server metadata for OAuth and OpenID Connect clients, and the public keys (JWKS) that verify tokens offline.",
            path => path.StartsWith("/.well-known/", StringComparison.Ordinal)),
    ];

    /// <summary>
    /// Tags Latchkey's operations from <see cref="TagsInOrder"/> by path, and lists those tags first with their
    /// descriptions. A host app's own endpoints in the same document keep their tags, listed after.
    /// </summary>
    private static Task GroupByTaskAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string path, IOpenApiPathItem item) in document.Paths)
        {
            foreach (OpenApiOperation operation in item.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
            {
                if (TagsInOrder.FirstOrDefault(t => t.HoldsPath(path)).Name is { } ours)
                    operation.Tags = new HashSet<OpenApiTagReference> { new(ours, document) };
                used.UnionWith(operation.Tags?.Select(t => t.Reference.Id!) ?? []);
            }
        }

        // A HashSet enumerates in insertion order when nothing is removed, and the document is written in that order.
        var tags = new HashSet<OpenApiTag>();
        foreach ((string name, string description, _) in TagsInOrder)
        {
            if (used.Remove(name))
                tags.Add(new OpenApiTag { Name = name, Description = description });
        }

        foreach (OpenApiTag hostTag in document.Tags ?? Enumerable.Empty<OpenApiTag>())
        {
            if (hostTag.Name is not null && used.Contains(hostTag.Name))
                tags.Add(hostTag);
        }

        document.Tags = tags;
        return Task.CompletedTask;
    }

    /// <summary>Operations that require authorization (<c>/me</c>, the admin API) list the bearer scheme and their 401/403.</summary>
    private static Task RequireTokenAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        IList<object> metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any())
            return Task.CompletedTask;

        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(OAuth2Scheme, context.Document)] = [] });
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No valid access token (see the WWW-Authenticate header)." });
        if (metadata.OfType<IAuthorizeData>().Any(a => a.Policy == LatchkeyPolicies.Admin))
            operation.Responses.TryAdd("403", new OpenApiResponse { Description = $"The token was not requested with scope {Protocol.Scopes.Admin}, or its account is no longer an enabled admin." });
        return Task.CompletedTask;
    }

    /// <summary>The form of <c>POST /token</c> (RFC 6749 §4.3.2, §4.4.2, §6), which the handler parses itself.</summary>
    public static Task TokenRequestFormAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.RequestBody = Form(
            "grant_type is required; the other parameters depend on it. Send client credentials in the body or with HTTP Basic, never both.",
            ["grant_type"],
            ("grant_type", "authorization_code, password, client_credentials or refresh_token.",
                [GrantTypes.AuthorizationCode, GrantTypes.Password, GrantTypes.ClientCredentials, GrantTypes.RefreshToken]),
            ("code", "authorization_code grant: the code from /authorize (single-use, 60 seconds).", null),
            ("redirect_uri", "authorization_code grant: the redirect_uri of the authorization request, exactly.", null),
            ("code_verifier", "authorization_code grant: the PKCE verifier of the request's code_challenge (RFC 7636).", null),
            ("username", "password grant: the user's name.", null),
            ("password", "password grant: the user's password.", null),
            ("scope", "Space-separated scopes; empty or absent for the default (the authorization_code grant takes the code's).", null),
            ("refresh_token", "refresh_token grant: the refresh token to exchange (it is rotated).", null),
            ("client_id", "A registered client, or absent for the public first-party client.", null),
            ("client_secret", "The registered client's secret (client_secret_post).", null));
        return Task.CompletedTask;
    }

    /// <summary>The form of <c>POST /revoke</c> (RFC 7009 §2.1) and <c>POST /introspect</c> (RFC 7662 §2.1).</summary>
    public static Task TokenManagementFormAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.RequestBody = Form(
            "The token, and the client authenticated as at /token.",
            ["token"],
            ("token", "An access token or a refresh token.", null),
            ("token_type_hint", "Where to look first.", [TokenManagementRequest.AccessTokenHint, TokenManagementRequest.RefreshTokenHint]),
            ("client_id", "A registered client, or absent for the public first-party client.", null),
            ("client_secret", "The registered client's secret (client_secret_post).", null));
        return Task.CompletedTask;
    }

    private static OpenApiRequestBody Form(string description, string[] required, params (string Name, string Description, string[]? Values)[] fields) => new()
    {
        Required = true,
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            [FormContentType] = new()
            {
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string>(required),
                    Properties = fields.ToDictionary(f => f.Name, f => (IOpenApiSchema)new OpenApiSchema
                    {
                        Type = JsonSchemaType.String,
                        Description = f.Description,
                        Enum = f.Values?.Select(v => (JsonNode)JsonValue.Create(v)).ToList(),
                    }),
                },
            },
        },
    };
}
