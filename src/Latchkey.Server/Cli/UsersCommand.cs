using System.CommandLine;
using Latchkey.Accounts;

namespace Latchkey.Server.Cli;

/// <summary>
/// <c>latchkey users add|list|set-password|disable|enable|roles|logout|consents|profile|mfa reset</c>. Disabling, a role or password change, and
/// logout end the user's tokens and logins: running servers refuse their tokens within Latchkey:RevocationRefreshInterval.
/// </summary>
internal static class UsersCommand
{
    private static readonly Argument<string> Name = new("name") { Description = "The username (case-insensitive)." };
    private static readonly Option<bool> PasswordStdin = new("--password-stdin") { Description = "Read the password from standard input instead of prompting." };
    private static readonly Option<string[]> Role = new("--role") { Description = "A role to give the user (repeatable).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string[]> Add = new("--add") { Description = "A role to add (repeatable).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string[]> Remove = new("--remove") { Description = "A role to remove (repeatable).", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string?> Email = new("--email") { Description = "The user's e-mail address (apps see it with the email scope)." };
    private static readonly Option<bool> EmailVerified = new("--email-verified") { Description = "You checked that the e-mail address is the user's (email_verified)." };
    private static readonly Option<string?> FullName = new("--name") { Description = "The user's full name (apps see it with the profile scope)." };
    private static readonly Option<string?> RevokeConsent = new("--revoke") { Description = "Withdraw the consent to this client id (its refresh tokens for the user are revoked)." };

    /// <summary>Who the audit log names for changes made here.</summary>
    private const string Actor = "cli";

    public static Command Create()
    {
        var users = new Command("users", "Manage user accounts.");

        var add = new Command("add", "Create a user. The first admin: latchkey users add NAME --role admin")
        {
            Name, Role, PasswordStdin, Email, EmailVerified, FullName,
        };
        add.SetAction((parse, ct) => RunAsync(parse, async (admin, name) =>
        {
            if (PasswordInput.Read(parse.GetValue(PasswordStdin), out string? error) is not { } password)
                return AccountResult.Fail(error!);
            return await admin.Accounts.AddAsync(name, password, parse.GetValue(Role) ?? [], Actor, ct, ProfileOf(parse));
        }, user => $"Created user {user.Username} ({Describe(user.Roles)}).", ct));

        var list = new Command("list", "List users.");
        list.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            var all = await admin.Accounts.ListAsync(ct);
            Console.WriteLine($"{"USERNAME",-32} {"STATE",-9} {"CREATED (UTC)",-20} ROLES");
            foreach (var u in all)
                Console.WriteLine($"{u.Username,-32} {(u.Disabled ? "disabled" : "active"),-9} {u.CreatedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {string.Join(",", u.Roles)}");
            return 0;
        });

        var setPassword = new Command("set-password", "Set a user's password.") { Name, PasswordStdin };
        setPassword.SetAction((parse, ct) => RunAsync(parse, async (admin, name) =>
        {
            if (PasswordInput.Read(parse.GetValue(PasswordStdin), out string? error) is not { } password)
                return AccountResult.Fail(error!);
            return await admin.Accounts.SetPasswordAsync(name, password, Actor, ct);
        }, user => $"Set the password of {user.Username}.", ct));

        var disable = new Command("disable", "Disable a user: their tokens are refused and their logins ended; no new tokens until enabled again.") { Name };
        disable.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Accounts.SetDisabledAsync(name, true, Actor, ct), u => $"Disabled {u.Username}.", ct));

        var enable = new Command("enable", "Enable a disabled user.") { Name };
        enable.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Accounts.SetDisabledAsync(name, false, Actor, ct), u => $"Enabled {u.Username}.", ct));

        var roles = new Command("roles", "Show or change a user's roles (a change ends their tokens and logins).") { Name, Add, Remove };
        roles.SetAction((parse, ct) => RunAsync(parse,
            (admin, name) => admin.Accounts.ChangeRolesAsync(name, parse.GetValue(Add) ?? [], parse.GetValue(Remove) ?? [], Actor, ct),
            u => $"{u.Username}: {Describe(u.Roles)}", ct));

        users.Subcommands.Add(add);
        users.Subcommands.Add(list);
        users.Subcommands.Add(setPassword);
        users.Subcommands.Add(disable);
        users.Subcommands.Add(enable);
        users.Subcommands.Add(roles);

        var logout = new Command("logout", "Log a user out everywhere: their tokens issued until now are refused, their refresh tokens revoked.") { Name };
        logout.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Accounts.LogoutAsync(name, Actor, ct),
            u => $"Logged {u.Username} out: tokens issued until now are refused, refresh tokens revoked.", ct));
        users.Subcommands.Add(logout);

        var consents = new Command("consents", "List the consents a user gave third-party apps, or withdraw one (--revoke CLIENT).") { Name, RevokeConsent };
        consents.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            string name = parse.GetValue(Name)!;
            if (parse.GetValue(RevokeConsent) is { } clientId)
            {
                string? error = (await admin.Consents.RevokeAsync(name, clientId, Actor, ct)).Error;
                if (error is not null)
                    return CommonOptions.Fail(error);
                Console.WriteLine($"Withdrew {name}'s consent to {clientId}: its refresh tokens for {name} are revoked; the next sign-in asks again.");
                return 0;
            }

            if (await admin.Consents.ListAsync(name, ct) is not { } list)
                return CommonOptions.Fail($"No user named '{name}'.");
            Console.WriteLine($"{"CLIENT_ID",-32} {"GRANTED (UTC)",-20} SCOPES");
            foreach (ConsentEntry c in list)
                Console.WriteLine($"{c.ClientId,-32} {c.GrantedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {string.Join(" ", c.Scopes)}");
            return 0;
        });
        users.Subcommands.Add(consents);

        var profile = new Command("profile", "Set a user's e-mail address and name (what apps see with the email and profile scopes); an option left out is cleared.")
        {
            Name, Email, EmailVerified, FullName,
        };
        profile.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Accounts.SetProfileAsync(name, ProfileOf(parse), Actor, ct),
            u => $"{u.Username}: e-mail {u.Email ?? "none"}{(u.EmailVerified ? " (verified)" : "")}, name {u.Name ?? "none"}.", ct));
        users.Subcommands.Add(profile);

        var mfa = new Command("mfa", "A user's second factors.");
        var reset = new Command("reset", "Remove a user's second factors and recovery codes, once you have checked who they are another way (audited).") { Name };
        reset.SetAction((parse, ct) => RunAsync(parse, (admin, name) => admin.Accounts.ResetSecondFactorsAsync(name, Actor, ct),
            u => $"Removed the second factors and recovery codes of {u.Username}: their next sign-in needs only the password (or sets up a new factor where one is required).",
            ct));
        mfa.Subcommands.Add(reset);
        users.Subcommands.Add(mfa);
        return users;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<AdminServices, string, Task<AccountResult>> change, Func<UserAccount, string> success, CancellationToken ct)
    {
        if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
            return 2;
        await using var _ = admin;
        AccountResult result = await change(admin, parse.GetValue(Name)!);
        if (!result.Succeeded)
            return CommonOptions.Fail(result.Error!);
        Console.WriteLine(success(result.User!));
        return 0;
    }

    private static UserProfile ProfileOf(ParseResult parse) => new(parse.GetValue(Email), parse.GetValue(FullName), parse.GetValue(EmailVerified));

    private static string Describe(IReadOnlyList<string> roles) => roles.Count == 0 ? "no roles" : "roles: " + string.Join(", ", roles);
}
