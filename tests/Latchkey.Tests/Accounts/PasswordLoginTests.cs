using Latchkey.Accounts;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Accounts;

/// <summary>What a login does to stored state: hash upgrades, and nothing for refused logins.</summary>
public sealed class PasswordLoginTests
{
    [Fact]
    public async Task Login_HashWithOldParameters_IsUpgradedOnSuccess()
    {
        string data = Directory.CreateTempSubdirectory("latchkey-test-").FullName;
        try
        {
            await using (LatchkeyTestServer before = await LatchkeyTestServer.StartAsync(dataDirectory: data))
                await before.AddUserAsync("alice", "correct horse battery");

            await using LatchkeyTestServer after = await LatchkeyTestServer.StartAsync(o => o.PasswordHashing.Iterations = 3, data);
            var users = after.Services.GetRequiredService<IUserStore>();
            Assert.Contains("t=2", (await users.FindByUsernameAsync("alice", CancellationToken.None))!.PasswordHash);

            await after.GetAccessTokenAsync("alice", "correct horse battery");

            string upgraded = (await users.FindByUsernameAsync("alice", CancellationToken.None))!.PasswordHash;
            Assert.StartsWith("$argon2id$v=19$m=19456,t=3,p=1$", upgraded);
            await after.GetAccessTokenAsync("alice", "correct horse battery");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Login_WrongPassword_DoesNotTouchTheHash()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.PasswordHashing.Iterations = 2);
        await server.AddUserAsync("alice", "correct horse battery");
        var users = server.Services.GetRequiredService<IUserStore>();
        string before = (await users.FindByUsernameAsync("alice", CancellationToken.None))!.PasswordHash;

        using HttpResponseMessage response = await server.PostTokenAsync("alice", "wrong");

        Assert.Equal(before, (await users.FindByUsernameAsync("alice", CancellationToken.None))!.PasswordHash);
    }

    [Fact]
    public async Task Upgrade_PasswordChangedMeanwhile_IsNotOverwritten()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery");
        var users = server.Services.GetRequiredService<IUserStore>();
        string stale = (await users.FindByUsernameAsync("alice", CancellationToken.None))!.PasswordHash;
        await server.Services.GetRequiredService<UserAccounts>().SetPasswordAsync("alice", "a brand new password", "test", CancellationToken.None);

        bool upgraded = await users.TryUpgradePasswordHashAsync("alice", stale, "$argon2id$bogus", CancellationToken.None);

        Assert.False(upgraded);
        await server.GetAccessTokenAsync("alice", "a brand new password");
    }
}
