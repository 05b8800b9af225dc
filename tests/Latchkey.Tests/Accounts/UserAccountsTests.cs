using Latchkey.Accounts;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Accounts;

/// <summary>The rules on names, roles and passwords; a refused change changes nothing.</summary>
public sealed class UserAccountsTests : IAsyncLifetime
{
    private LatchkeyTestServer _server = null!;
    private UserAccounts Accounts => _server.Services.GetRequiredService<UserAccounts>();

    public async ValueTask InitializeAsync() => _server = await LatchkeyTestServer.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("semi;colon")]
    [InlineData("ünïcode")]
    public async Task Add_InvalidUsername_Fails(string username)
    {
        AccountResult result = await Accounts.AddAsync(username, "long enough password", [], "test", CancellationToken.None);

        Assert.False(result.Succeeded);
        Assert.Empty(await Accounts.ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Add_UsernameOf129Characters_Fails()
    {
        Assert.True((await Accounts.AddAsync(new string('a', 128), "long enough password", [], "test", CancellationToken.None)).Succeeded);
        Assert.False((await Accounts.AddAsync(new string('b', 129), "long enough password", [], "test", CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Add_PasswordOfSevenCharacters_Fails()
    {
        Assert.False((await Accounts.AddAsync("alice", "1234567", [], "test", CancellationToken.None)).Succeeded);
        Assert.True((await Accounts.AddAsync("alice", "12345678", [], "test", CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Add_SameNameInOtherCase_Fails()
    {
        Assert.True((await Accounts.AddAsync("Alice", "long enough password", ["admin"], "test", CancellationToken.None)).Succeeded);

        AccountResult again = await Accounts.AddAsync("ALICE", "another password", [], "test", CancellationToken.None);

        Assert.False(again.Succeeded);
        UserAccount alice = Assert.Single(await Accounts.ListAsync(CancellationToken.None));
        Assert.Equal("alice", alice.Username);
        Assert.Equal(["admin"], alice.Roles);
    }

    [Fact]
    public async Task Add_InvalidRole_Fails()
    {
        Assert.False((await Accounts.AddAsync("alice", "long enough password", ["has space"], "test", CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task ChangeRoles_AddAndRemove_KeepsTheRest()
    {
        await Accounts.AddAsync("alice", "long enough password", ["a", "b"], "test", CancellationToken.None);

        AccountResult result = await Accounts.ChangeRolesAsync("alice", ["c", "a"], ["b"], "test", CancellationToken.None);

        Assert.Equal(["a", "c"], result.User!.Roles);
        Assert.Equal(["a", "c"], (await Accounts.ListAsync(CancellationToken.None))[0].Roles);
    }

    [Fact]
    public async Task Changes_UnknownUser_Fail()
    {
        Assert.False((await Accounts.SetPasswordAsync("ghost", "long enough password", "test", CancellationToken.None)).Succeeded);
        Assert.False((await Accounts.SetDisabledAsync("ghost", true, "test", CancellationToken.None)).Succeeded);
        Assert.False((await Accounts.ChangeRolesAsync("ghost", ["x"], [], "test", CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task ChangeRoles_20AtOnce_NoneIsLost()
    {
        Assert.True((await Accounts.AddAsync("alice", "long enough password", ["keep"], "test", CancellationToken.None)).Succeeded);
        string[] roles = Enumerable.Range(0, 20).Select(i => "role" + i).ToArray();

        AccountResult[] results = await Task.WhenAll(roles.Select(role =>
            Task.Run(() => Accounts.ChangeRolesAsync("alice", [role], ["keep"], "test", CancellationToken.None))));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        UserRecord alice = (await _server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("alice", CancellationToken.None))!;
        Assert.Equal(roles.Order(), alice.Roles.Order());
    }
}
