using Latchkey.Server.Tests.Support;
using Xunit;

namespace Latchkey.Server.Tests.Cli;

public sealed class UsersCommandTests : IDisposable
{
    private const string Password = "correct-horse-battery";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private sealed record ListedUser(string Username, string State, string Roles);

    private Task<CliResult> RunAsync(string[] arguments, string? stdin = null, IReadOnlyDictionary<string, string?>? environment = null) =>
        LatchkeyCli.RunAsync(arguments, stdin, environment, _folder.Root);

    private Task<CliResult> AddAsync(string name, string password, params string[] extra) =>
        RunAsync(["users", "add", name, "--password-stdin", "--data-dir", _folder.Data, .. extra], password + "\n");

    private async Task<List<ListedUser>> ListAsync(params string[] dataDirArguments)
    {
        CliResult result = await RunAsync(["users", "list", .. dataDirArguments.Length == 0 ? ["--data-dir", _folder.Data] : dataDirArguments]);
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.StartsWith("USERNAME", lines[0]);
        // USERNAME STATE yyyy-MM-dd HH:mm:ss [ROLES]
        return lines.Skip(1).Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(parts => new ListedUser(parts[0], parts[1], parts.Length > 4 ? parts[4] : "")).ToList();
    }

    private async Task<string> StoredHashAsync(string username)
    {
        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath, $"SELECT password_hash FROM users WHERE username = '{username}'");
        return Assert.IsType<string>(Assert.Single(rows)[0]);
    }

    [Fact]
    public async Task Add_AdminWithPasswordOnStdin_ListShowsActiveAdmin()
    {
        CliResult add = await AddAsync("alice", Password, "--role", "admin");

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Contains("Created user alice", add.Stdout);
        Assert.DoesNotContain(Password, add.AllOutput);
        Assert.Equal([new ListedUser("alice", "active", "admin")], await ListAsync());
    }

    [Fact]
    public async Task Add_WithEmailAndName_ThenProfileChangesThem_AndConsentsListsNone()
    {
        CliResult add = await AddAsync("alice", Password, "--email", "alice@example.com", "--email-verified", "--name", "Alice Liddell");
        Assert.True(add.ExitCode == 0, add.ToString());
        List<object?[]> rows = await Database.QueryAsync(_folder.DatabasePath, "SELECT email, email_verified, display_name FROM users WHERE username = 'alice'");
        Assert.Equal(["alice@example.com", 1L, "Alice Liddell"], Assert.Single(rows));

        CliResult profile = await RunAsync(["users", "profile", "alice", "--email", "a@example.org", "--data-dir", _folder.Data]);
        Assert.True(profile.ExitCode == 0, profile.ToString());
        Assert.Contains("e-mail a@example.org, name none", profile.Stdout);
        rows = await Database.QueryAsync(_folder.DatabasePath, "SELECT email, email_verified, display_name FROM users WHERE username = 'alice'");
        Assert.Equal(["a@example.org", 0L, null], Assert.Single(rows));

        CliResult bad = await RunAsync(["users", "profile", "alice", "--email", "not-an-address", "--data-dir", _folder.Data]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("is not an e-mail address", bad.Stderr);

        CliResult consents = await RunAsync(["users", "consents", "alice", "--data-dir", _folder.Data]);
        Assert.True(consents.ExitCode == 0, consents.ToString());
        Assert.StartsWith("CLIENT_ID", consents.Stdout);
        CliResult revoke = await RunAsync(["users", "consents", "alice", "--revoke", "thirdparty", "--data-dir", _folder.Data]);
        Assert.Equal(2, revoke.ExitCode);
        Assert.Contains("has not consented to client 'thirdparty'", revoke.Stderr);
    }

    [Fact]
    public async Task MfaReset_RemovesTheUsersFactorAndRecoveryCodes_Audited_OthersKeepTheirs()
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);
        Assert.Equal(0, (await AddAsync("bob", Password)).ExitCode);
        foreach (string name in new[] { "alice", "bob" })
        {
            await Database.ExecuteAsync(_folder.DatabasePath, $"""
                INSERT INTO totp_factors (user_id, secret, created_at, confirmed_at) SELECT id, x'00', 0, 0 FROM users WHERE username = '{name}';
                INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT id, 'h1-{name}', 0 FROM users WHERE username = '{name}';
                """);
        }

        CliResult reset = await RunAsync(["users", "mfa", "reset", "ALICE", "--data-dir", _folder.Data]);
        CliResult unknown = await RunAsync(["users", "mfa", "reset", "nobody", "--data-dir", _folder.Data]);

        Assert.True(reset.ExitCode == 0, reset.ToString());
        Assert.Contains("Removed the second factors and recovery codes of alice", reset.Stdout);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("No user named 'nobody'", unknown.Stderr);
        List<object?[]> left = await Database.QueryAsync(_folder.DatabasePath,
            "SELECT u.username FROM totp_factors t JOIN users u ON u.id = t.user_id UNION ALL SELECT u.username FROM recovery_codes r JOIN users u ON u.id = r.user_id");
        Assert.Equal(["bob", "bob"], left.Select(r => (string)r[0]!));
        List<object?[]> audited = await Database.QueryAsync(_folder.DatabasePath, "SELECT actor, subject FROM audit_events WHERE type = 'mfa_reset'");
        Assert.Equal(["cli", "alice"], Assert.Single(audited).Select(v => (string)v!));
    }

    [Fact]
    public async Task Add_PasswordOnStdin_StoresOwaspArgon2idHashNotThePassword()
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);

        string hash = await StoredHashAsync("alice");
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", hash);
        Assert.DoesNotContain(Password, hash);
    }

    [Fact]
    public async Task Add_ExistingName_FailsWithExit2AndKeepsTheFirstAccount()
    {
        Assert.Equal(0, (await AddAsync("alice", Password, "--role", "admin")).ExitCode);
        string hashBefore = await StoredHashAsync("alice");

        CliResult again = await AddAsync("alice", "another-password-1");

        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);
        Assert.DoesNotContain("another-password-1", again.AllOutput);
        Assert.Equal([new ListedUser("alice", "active", "admin")], await ListAsync());
        Assert.Equal(hashBefore, await StoredHashAsync("alice"));
    }

    [Fact]
    public async Task Add_MixedCaseName_StoredLowerCaseAndClashesWithOtherCasing()
    {
        Assert.Equal(0, (await AddAsync("Bob", Password)).ExitCode);

        Assert.Equal([new ListedUser("bob", "active", "")], await ListAsync());
        CliResult clash = await AddAsync("BOB", Password);
        Assert.Equal(2, clash.ExitCode);
        Assert.Contains("already exists", clash.Stderr);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("eve!")]
    [InlineData("")]
    public async Task Add_InvalidUsername_FailsWithExit2AndAddsNothing(string name)
    {
        CliResult result = await AddAsync(name, Password);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not a valid username", result.Stderr);
        Assert.DoesNotContain(Password, result.AllOutput);
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task Add_PasswordOfSevenCharacters_FailsWithExit2AndAddsNothing()
    {
        CliResult result = await AddAsync("alice", "1234567");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("at least 8 characters", result.Stderr);
        Assert.DoesNotContain("1234567", result.AllOutput);
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task Add_PasswordOfEightCharacters_Succeeds()
    {
        CliResult result = await AddAsync("alice", "12345678");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Single(await ListAsync());
    }

    [Fact]
    public async Task Add_WithoutPasswordStdinWhileStdinIsRedirected_FailsTellingToUsePasswordStdin()
    {
        CliResult result = await RunAsync(["users", "add", "alice", "--data-dir", _folder.Data], Password + "\n");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--password-stdin", result.Stderr);
        Assert.DoesNotContain(Password, result.AllOutput);
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task Add_PasswordStdinButStdinEmpty_FailsWithExit2()
    {
        CliResult result = await RunAsync(["users", "add", "alice", "--password-stdin", "--data-dir", _folder.Data], stdin: "");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("standard input was empty", result.Stderr);
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task SetPassword_KnownUser_ReplacesTheStoredHash()
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);
        string before = await StoredHashAsync("alice");

        CliResult result = await RunAsync(["users", "set-password", "alice", "--password-stdin", "--data-dir", _folder.Data], "a-new-password-2\n");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("a-new-password-2", result.AllOutput);
        string after = await StoredHashAsync("alice");
        Assert.NotEqual(before, after);
        Assert.StartsWith("$argon2id$v=19$m=19456,t=2,p=1$", after);
    }

    [Fact]
    public async Task SetPassword_TooShort_FailsWithExit2AndKeepsTheOldHash()
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);
        string before = await StoredHashAsync("alice");

        CliResult result = await RunAsync(["users", "set-password", "alice", "--password-stdin", "--data-dir", _folder.Data], "short\n");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("at least 8 characters", result.Stderr);
        Assert.Equal(before, await StoredHashAsync("alice"));
    }

    [Fact]
    public async Task DisableThenEnable_KnownUser_ListShowsDisabledThenActive()
    {
        Assert.Equal(0, (await AddAsync("alice", Password, "--role", "admin")).ExitCode);

        CliResult disable = await RunAsync(["users", "disable", "alice", "--data-dir", _folder.Data]);
        Assert.True(disable.ExitCode == 0, disable.ToString());
        Assert.Equal([new ListedUser("alice", "disabled", "admin")], await ListAsync());

        CliResult enable = await RunAsync(["users", "enable", "ALICE", "--data-dir", _folder.Data]);
        Assert.True(enable.ExitCode == 0, enable.ToString());
        Assert.Equal([new ListedUser("alice", "active", "admin")], await ListAsync());
    }

    [Fact]
    public async Task Roles_AddAndRemove_ListShowsTheNewRoles()
    {
        Assert.Equal(0, (await AddAsync("alice", Password, "--role", "admin", "--role", "ops")).ExitCode);

        CliResult result = await RunAsync(["users", "roles", "alice", "--add", "x", "--remove", "admin", "--data-dir", _folder.Data]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("alice: roles: ops, x", result.Stdout);
        Assert.Equal([new ListedUser("alice", "active", "ops,x")], await ListAsync());
    }

    [Fact]
    public async Task Roles_InvalidRole_FailsWithExit2AndKeepsRoles()
    {
        Assert.Equal(0, (await AddAsync("alice", Password, "--role", "admin")).ExitCode);

        CliResult result = await RunAsync(["users", "roles", "alice", "--add", "bad role", "--remove", "admin", "--data-dir", _folder.Data]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not a valid role", result.Stderr);
        Assert.Equal([new ListedUser("alice", "active", "admin")], await ListAsync());
    }

    [Theory]
    [InlineData("set-password")]
    [InlineData("disable")]
    [InlineData("enable")]
    [InlineData("roles")]
    public async Task Command_UnknownUser_FailsWithExit2NamingTheUser(string command)
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);

        string[] arguments = command == "set-password"
            ? ["users", command, "mallory", "--password-stdin", "--data-dir", _folder.Data]
            : ["users", command, "mallory", "--data-dir", _folder.Data];

        CliResult result = await RunAsync(arguments, Password + "\n");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("No user named 'mallory'", result.Stderr);
        Assert.Equal([new ListedUser("alice", "active", "")], await ListAsync());
    }

    [Fact]
    public async Task AllCommands_DataDirectoryFromEnvironment_UseThatFolder()
    {
        var environment = new Dictionary<string, string?> { ["LATCHKEY__DATADIRECTORY"] = _folder.Data };

        CliResult add = await RunAsync(["users", "add", "alice", "--password-stdin"], Password + "\n", environment);
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Equal(0, (await RunAsync(["users", "disable", "alice"], environment: environment)).ExitCode);

        Assert.True(File.Exists(_folder.DatabasePath));
        Assert.Equal([new ListedUser("alice", "disabled", "")], await ListAsync());
    }

    [Fact]
    public async Task AllCommands_DataDirFlag_WinsOverEnvironment()
    {
        string other = Path.Combine(_folder.Root, "other");
        var environment = new Dictionary<string, string?> { ["LATCHKEY__DATADIRECTORY"] = other };

        CliResult add = await RunAsync(["users", "add", "alice", "--password-stdin", "--data-dir", _folder.Data], Password + "\n", environment);

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Single(await ListAsync());
        Assert.False(Directory.Exists(other));
    }

    [Fact]
    public async Task AllCommands_NoDataDirectoryGiven_UseDataUnderTheWorkingFolder()
    {
        CliResult add = await RunAsync(["users", "add", "alice", "--password-stdin"], Password + "\n");

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.True(File.Exists(Path.Combine(_folder.Root, "data", "latchkey.db")));
        Assert.Single(await ListAsync());
    }

    [Fact]
    public async Task Add_MalformedAppSettingsJson_FailsWithExit2NamingTheFileAndAddsNothing()
    {
        await File.WriteAllTextAsync(Path.Combine(_folder.Root, "appsettings.json"), "{ not json", TestContext.Current.CancellationToken);

        CliResult result = await AddAsync("alice", Password);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("appsettings.json", result.Stderr);
        Assert.Contains("Fix the JSON", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
        Assert.False(File.Exists(_folder.DatabasePath));
    }

    [Fact]
    public async Task Add_DataFolderUnderARegularFile_FailsWithExit2SayingToChooseAnother()
    {
        string file = Path.Combine(_folder.Root, "F");
        await File.WriteAllTextAsync(file, "a file, not a folder", TestContext.Current.CancellationToken);

        CliResult result = await RunAsync(["users", "add", "alice", "--password-stdin", "--data-dir", Path.Combine(file, "sub")], Password + "\n");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(Path.Combine(file, "sub"), result.Stderr);
        Assert.Contains("--data-dir", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
    }

    [Fact]
    public async Task List_DatabaseFromANewerLatchkey_FailsWithExit2SayingToUpgradeAndLeavesItAlone()
    {
        Assert.Equal(0, (await AddAsync("alice", Password)).ExitCode);
        await Database.ExecuteAsync(_folder.DatabasePath, "INSERT INTO schema_version (version) VALUES (99)");

        CliResult result = await RunAsync(["users", "list", "--data-dir", _folder.Data]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("schema version 99", result.Stderr);
        Assert.Contains("Upgrade Latchkey", result.Stderr);
        Assert.DoesNotContain("Unhandled exception", result.AllOutput);
        Assert.Single(await Database.QueryAsync(_folder.DatabasePath, "SELECT username FROM users"));
    }

    [Fact]
    public async Task Add_DataDirBeforeTheSubcommand_UsesThatFolder()
    {
        CliResult add = await RunAsync(["--data-dir", _folder.Data, "users", "add", "alice", "--password-stdin"], Password + "\n",
            new Dictionary<string, string?> { ["LATCHKEY__DATADIRECTORY"] = Path.Combine(_folder.Root, "other") });

        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Single(await ListAsync());
        Assert.False(Directory.Exists(Path.Combine(_folder.Root, "other")));
    }
}
