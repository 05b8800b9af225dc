using System.CommandLine;
using System.Text.Json;
using Latchkey.Clients;

namespace Latchkey.Server.Cli;

/// <summary><c>latchkey clients add|list|scopes|rotate-secret|disable|enable|remove</c>.</summary>
internal static class ClientsCommand
{
    /// <summary>Who the audit log says made the change.</summary>
    private const string Actor = "cli";

    private static readonly Argument<string> Name = new("name") { Description = "The client id." };
    private static readonly Option<string[]> Grant = new("--grant")
    {
        Description = $"A grant the client may use (repeatable): {string.Join(", ", Client.AssignableGrantTypes)}.",
        Arity = ArgumentArity.ZeroOrMore,
    };
    private static readonly Option<string[]> Scope = new("--scope") { Description = "A scope the client may request (repeatable).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string?> Audience = new("--audience") { Description = "The aud of the client's client_credentials tokens (default: the server's audience)." };
    private static readonly Option<bool> Json = new("--json") { Description = "Print only {\"client_id\": …, \"client_secret\": …} on standard output." };
    private static readonly Option<string?> Introspect = new("--introspect")
    {
        Description = $"Allow the client to call /introspect: '{IntrospectionPermission.Any}' (any token Latchkey issued, the default when given without a value) " +
                      $"or '{IntrospectionPermission.OwnAudience}' (only tokens for its own audience).",
        Arity = ArgumentArity.ZeroOrOne,
    };
    private static readonly Option<string[]> RedirectUri = new("--redirect-uri")
    {
        Description = "Where the browser may return after sign-in (repeatable; with --grant authorization_code): https, or http on 127.0.0.1, [::1] or localhost.",
        Arity = ArgumentArity.ZeroOrMore,
    };
    private static readonly Option<string[]> PostLogoutRedirectUri = new("--post-logout-redirect-uri")
    {
        Description = "Where the browser may return after logout (repeatable).",
        Arity = ArgumentArity.ZeroOrMore,
    };
    private static readonly Option<bool> Public = new("--public") { Description = "A public client (a single-page or native app): no secret; PKCE proves it." };
    private static readonly Option<bool> FirstParty = new("--first-party") { Description = "Your own app: its users are not asked to consent to its scopes." };
    private static readonly Option<string?> IdTokenAlg = new("--id-token-alg")
    {
        Description = "The algorithm of its id tokens: RS256 (the default, what every OpenID Connect library accepts) or the access tokens' one (ES256 unless set), cheaper to sign.",
    };
    private static readonly Option<bool> RequireMfa = new("--require-mfa")
    {
        Description = "Its users must sign in with two factors: one without a second factor sets one up at their next sign-in.",
    };
    private static readonly Option<string[]> AddScope = new("--add") { Description = "A scope to allow (repeatable).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string[]> RemoveScope = new("--remove") { Description = "A scope to take away (repeatable).", Arity = ArgumentArity.ZeroOrMore };

    public static Command Create()
    {
        var clients = new Command("clients", "Manage registered clients (services that authenticate with a secret).");

        var add = new Command("add", "Register a client and print its secret, once.")
        {
            Name, Grant, Scope, Audience, Introspect, RedirectUri, PostLogoutRedirectUri, Public, FirstParty, IdTokenAlg, RequireMfa, Json,
        };
        add.SetAction((parse, ct) => RunAsync(parse,
            (admin, name) => admin.Clients.AddAsync(name, parse.GetValue(Grant) ?? [], parse.GetValue(Scope) ?? [], parse.GetValue(Audience), Actor, ct,
                IntrospectionOf(parse), new BrowserSettings(parse.GetValue(RedirectUri) ?? [], parse.GetValue(PostLogoutRedirectUri) ?? [], parse.GetValue(Public),
                    parse.GetValue(FirstParty))
                { IdTokenAlgorithm = parse.GetValue(IdTokenAlg), RequireMfa = parse.GetValue(RequireMfa) }),
            result => PrintSecret(parse, result, $"Created client {result.Client!.ClientId} ({Describe(result.Client)})."), ct));

        var list = new Command("list", "List clients (never their secrets).");
        list.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            var all = await admin.Clients.ListAsync(ct);
            Console.WriteLine($"{"CLIENT_ID",-32} {"STATE",-9} {"GRANTS",-40} {"SCOPES",-30} {"AUDIENCE",-12} INTROSPECT");
            foreach (ClientRegistration c in all)
            {
                Console.WriteLine($"{c.ClientId,-32} {(c.Disabled ? "disabled" : "active"),-9} {Join(c.GrantTypes),-40} {Join(c.Scopes),-30} " +
                                  $"{c.Audience ?? "-",-12} {c.Introspection ?? "-"}");
            }
            return 0;
        });

        var scopes = new Command("scopes", "Add and remove the scopes a client may request; a removed scope is dropped from its logins at their next refresh.")
        {
            Name, AddScope, RemoveScope,
        };
        scopes.SetAction((parse, ct) => RunAsync(parse,
            (admin, name) => admin.Clients.ChangeScopesAsync(name, parse.GetValue(AddScope) ?? [], parse.GetValue(RemoveScope) ?? [], Actor, ct),
            result => Console.WriteLine($"{result.Client!.ClientId}: scopes {Join(result.Client.Scopes)}"), ct));

        var rotate = new Command("rotate-secret", "Give a client a new secret and print it, once; the old one stops working.") { Name, Json };
        rotate.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Clients.RotateSecretAsync(name, Actor, ct),
            result => PrintSecret(parse, result, $"New secret for client {parse.GetValue(Name)}; the old one no longer works."), ct));

        var disable = new Command("disable", "Disable a client: no tokens; its tokens issued until now are refused and its refresh tokens revoked.") { Name };
        disable.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Clients.SetDisabledAsync(name, true, Actor, ct),
            _ => Console.WriteLine($"Disabled client {parse.GetValue(Name)}."), ct));

        var enable = new Command("enable", "Enable a disabled client.") { Name };
        enable.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Clients.SetDisabledAsync(name, false, Actor, ct),
            _ => Console.WriteLine($"Enabled client {parse.GetValue(Name)}."), ct));

        var remove = new Command("remove", "Remove a client; its refresh tokens are revoked.") { Name };
        remove.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Clients.RemoveAsync(name, Actor, ct),
            _ => Console.WriteLine($"Removed client {parse.GetValue(Name)}."), ct));

        clients.Subcommands.Add(add);
        clients.Subcommands.Add(list);
        clients.Subcommands.Add(scopes);
        clients.Subcommands.Add(rotate);
        clients.Subcommands.Add(disable);
        clients.Subcommands.Add(enable);
        clients.Subcommands.Add(remove);
        return clients;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<AdminServices, string, Task<ClientResult>> change, Action<ClientResult> success, CancellationToken ct)
    {
        if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
            return 2;
        await using var _ = admin;
        ClientResult result = await change(admin, parse.GetValue(Name)!);
        if (!result.Succeeded)
            return CommonOptions.Fail(result.Error!);
        success(result);
        return 0;
    }

    /// <summary>The secret exists only in this output (the database keeps its hash), so say so; with --json, stdout is the JSON alone.</summary>
    private static void PrintSecret(ParseResult parse, ClientResult result, string headline)
    {
        string clientId = parse.GetValue(Name)!;
        if (parse.GetValue(Json))
        {
            Console.WriteLine(result.Secret is null
                ? $"{{\"client_id\": {JsonString(clientId)}}}"
                : $"{{\"client_id\": {JsonString(clientId)}, \"client_secret\": {JsonString(result.Secret)}}}");
            return;
        }

        Console.WriteLine(headline);
        if (result.Secret is null)
        {
            Console.WriteLine("A public client: it has no secret, and proves itself with PKCE at each sign-in.");
            return;
        }

        Console.WriteLine($"client_secret: {result.Secret}");
        Console.WriteLine("Store this secret now: it cannot be shown again (only its hash is kept).");
    }

    /// <summary>--introspect alone means any; absent means none.</summary>
    private static string? IntrospectionOf(ParseResult parse) =>
        parse.GetResult(Introspect) is null ? null : parse.GetValue(Introspect) ?? IntrospectionPermission.Any;

    private static string JsonString(string value) => $"\"{JsonEncodedText.Encode(value).Value}\"";

    private static string Describe(ClientRegistration c) =>
        $"grants: {string.Join(", ", c.GrantTypes)}; scopes: {(c.Scopes.Count == 0 ? "none" : string.Join(", ", c.Scopes))}; audience: {c.Audience ?? "the server's"}" +
        (c.Introspection is null ? "" : $"; may introspect: {c.Introspection}") +
        (c.RedirectUris.Count == 0 ? "" : $"; redirect URIs: {string.Join(", ", c.RedirectUris)}; {(c.IsPublic ? "public" : "confidential")}, " +
            (c.FirstParty ? "first-party" : "third-party (users are asked to consent)") + $"; id tokens: {c.IdTokenSignedResponseAlg}" +
            (c.RequireMfa ? "; requires a second factor" : ""));

    private static string Join(IReadOnlyList<string> values) => values.Count == 0 ? "-" : string.Join(",", values);
}
