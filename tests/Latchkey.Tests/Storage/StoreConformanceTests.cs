using System.Data.Common;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Testing;

namespace Latchkey.Tests.Storage;

/// <summary>
/// What every storage provider must do, written against the store interfaces only; <see cref="SqliteStoreConformanceTests"/>
/// and <see cref="PostgresStoreConformanceTests"/> run it on a fresh, migrated database each. A behaviour that holds on
/// one provider and not the other is a bug in that provider.
/// </summary>
public abstract class StoreConformanceTests : IAsyncLifetime
{
    // Whole milliseconds: both providers store times as Unix milliseconds.
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_000); // 2026-01-01T00:00:00Z
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private const int Concurrency = 50;

    private readonly List<ServiceProvider> _providers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The stores under test; further providers on other databases are opened by some schema tests.</summary>
    private IServiceProvider Services => _providers[0];

    private SqlDatabase Database => Services.GetRequiredService<SqlDatabase>();
    private IUserStore Users => Services.GetRequiredService<IUserStore>();
    private IClientStore Clients => Services.GetRequiredService<IClientStore>();
    private ISigningKeyStore Keys => Services.GetRequiredService<ISigningKeyStore>();
    private ILoginThrottleStore Throttle => Services.GetRequiredService<ILoginThrottleStore>();
    private IRefreshTokenStore RefreshTokens => Services.GetRequiredService<IRefreshTokenStore>();
    private IRevocationStore Revocations => Services.GetRequiredService<IRevocationStore>();
    private IAuditLog Audit => Services.GetRequiredService<IAuditLog>();

    /// <summary>Makes a fresh, empty database and returns the options that point Latchkey at it. May be called more than once.</summary>
    protected abstract Task<Action<LatchkeyOptions>> CreateDatabaseAsync();

    /// <summary>Deletes the databases made by <see cref="CreateDatabaseAsync"/>, once every connection to them is closed.</summary>
    protected abstract ValueTask DeleteDatabasesAsync();

    public async ValueTask InitializeAsync()
    {
        Open(await CreateDatabaseAsync());
        await Database.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ServiceProvider provider in _providers)
            await provider.DisposeAsync();
        await DeleteDatabasesAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>The stores as the server builds them (<c>AddLatchkeyStorage</c>), on the database <paramref name="configure"/> names.</summary>
    private SqlDatabase Open(Action<LatchkeyOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddOptions<LatchkeyOptions>().Configure(configure);
        services.AddLatchkeyStorage();
        ServiceProvider provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<SqlDatabase>();
    }

    // ---- Users -------------------------------------------------------------------------------------------------------------

    private static UserRecord User(string username, params string[] roles) =>
        new(Guid.NewGuid().ToString("N"), username, "$argon2id$v=19$m=19456,t=2,p=1$" + username, roles, Disabled: false, T0, T0);

    [Fact]
    public async Task Users_Added_AreFoundByNameAndByIdWithEveryField()
    {
        var alice = new UserRecord("id-alice", "alice", "$argon2id$hash", ["admin", "staff"], Disabled: true, T0, T0.AddMinutes(1));

        Assert.True(await Users.TryAddAsync(alice, Ct));

        UserRecord byName = (await Users.FindByUsernameAsync("alice", Ct))!;
        UserRecord byId = (await Users.FindByIdAsync("id-alice", Ct))!;
        foreach (UserRecord found in new[] { byName, byId })
        {
            Assert.Equal(alice.Id, found.Id);
            Assert.Equal(alice.Username, found.Username);
            Assert.Equal(alice.PasswordHash, found.PasswordHash);
            Assert.Equal(["admin", "staff"], found.Roles);
            Assert.True(found.Disabled);
            Assert.Equal(T0, found.CreatedAt);
            Assert.Equal(T0.AddMinutes(1), found.PasswordChangedAt);
        }
    }

    [Fact]
    public async Task Users_Unknown_AreNotFound()
    {
        await Users.TryAddAsync(User("alice"), Ct);

        Assert.Null(await Users.FindByUsernameAsync("bob", Ct));
        Assert.Null(await Users.FindByUsernameAsync("ALICE", Ct)); // names are stored lower-case; lookups are exact
        Assert.Null(await Users.FindByIdAsync("no-such-id", Ct));
    }

    [Fact]
    public async Task Users_TakenUsername_IsRefusedWithoutThrowingAndTheFirstIsKept()
    {
        UserRecord first = User("alice", "admin");
        await Users.TryAddAsync(first, Ct);

        bool added = await Users.TryAddAsync(User("alice") with { PasswordHash = "other" }, Ct);

        Assert.False(added);
        UserRecord stored = (await Users.FindByUsernameAsync("alice", Ct))!;
        Assert.Equal(first.Id, stored.Id);
        Assert.Equal(first.PasswordHash, stored.PasswordHash);
        Assert.Single(await Users.ListAsync(Ct));
    }

    [Fact]
    public async Task Users_SameNameAddedConcurrently_ExactlyOneSucceedsAndNoneThrows()
    {
        bool[] results = await ConcurrentlyAsync(Concurrency, _ => Users.TryAddAsync(User("alice"), Ct));

        Assert.Equal(1, results.Count(r => r));
        Assert.Single(await Users.ListAsync(Ct));
    }

    [Fact]
    public async Task Users_List_IsOrderedByUsernameOrdinally()
    {
        foreach (string name in new[] { "carol", "bob_3", "alice", "bob-2", "bob", "bob@5", "bob.1", "bob+4", "bob9", "0day" })
            await Users.TryAddAsync(User(name), Ct);

        IReadOnlyList<UserRecord> users = await Users.ListAsync(Ct);

        // By bytes, whatever the database's locale: '+' '-' '.' then digits, '@', '_' (a language's rules put '_' first).
        Assert.Equal(["0day", "alice", "bob", "bob+4", "bob-2", "bob.1", "bob9", "bob@5", "bob_3", "carol"], users.Select(u => u.Username));
    }

    [Fact]
    public async Task Users_UpdatePassword_ReplacesTheHashAndTheChangedTime()
    {
        await Users.TryAddAsync(User("alice"), Ct);

        UserUpdate? update = await Users.UpdateAsync("alice", u => u with { PasswordHash = "$argon2id$new", PasswordChangedAt = T0.AddDays(3) }, null, Ct);

        UserRecord stored = (await Users.FindByUsernameAsync("alice", Ct))!;
        Assert.Equal("$argon2id$new", stored.PasswordHash);
        Assert.Equal(T0.AddDays(3), stored.PasswordChangedAt);
        Assert.Equal(T0, stored.CreatedAt);
        Assert.Null(stored.TokensValidAfter);
        Assert.Equal(stored, update!.After with { Roles = stored.Roles });
        Assert.Equal("$argon2id$v=19$m=19456,t=2,p=1$alice", update.Before.PasswordHash);
        Assert.Null(await Users.UpdateAsync("bob", u => u with { PasswordHash = "$argon2id$new" }, null, Ct));
    }

    [Fact]
    public async Task Users_Update_NeverChangesIdNameOrCreation()
    {
        UserRecord alice = User("alice");
        await Users.TryAddAsync(alice, Ct);

        await Users.UpdateAsync("alice", u => u with { Id = "other", Username = "mallory", CreatedAt = T0.AddDays(1), Disabled = true }, null, Ct);

        UserRecord stored = (await Users.FindByUsernameAsync("alice", Ct))!;
        Assert.Equal((alice.Id, "alice", T0, true), (stored.Id, stored.Username, stored.CreatedAt, stored.Disabled));
        Assert.Null(await Users.FindByUsernameAsync("mallory", Ct));
    }

    [Fact]
    public async Task Users_UpgradeWithTheExpectedHash_ReplacesItButNotTheChangedTime()
    {
        UserRecord alice = User("alice");
        await Users.TryAddAsync(alice, Ct);

        Assert.True(await Users.TryUpgradePasswordHashAsync("alice", alice.PasswordHash, "$argon2id$stronger", Ct));

        UserRecord stored = (await Users.FindByUsernameAsync("alice", Ct))!;
        Assert.Equal("$argon2id$stronger", stored.PasswordHash);
        // An upgrade is the same password, rehashed: it is not a password change (which would end sessions).
        Assert.Equal(T0, stored.PasswordChangedAt);
    }

    [Fact]
    public async Task Users_UpgradeAfterThePasswordChanged_IsRefusedAndTheNewPasswordStays()
    {
        UserRecord alice = User("alice");
        await Users.TryAddAsync(alice, Ct);
        await Users.UpdateAsync("alice", u => u with { PasswordHash = "$argon2id$set-by-admin", PasswordChangedAt = T0.AddHours(1) }, null, Ct);

        bool upgraded = await Users.TryUpgradePasswordHashAsync("alice", alice.PasswordHash, "$argon2id$stale-upgrade", Ct);

        Assert.False(upgraded);
        Assert.Equal("$argon2id$set-by-admin", (await Users.FindByUsernameAsync("alice", Ct))!.PasswordHash);
        Assert.False(await Users.TryUpgradePasswordHashAsync("bob", alice.PasswordHash, "$argon2id$x", Ct));
    }

    [Fact]
    public async Task Users_UpdateDisabled_TurnsOffAndOnAgain()
    {
        await Users.TryAddAsync(User("alice"), Ct);

        Assert.True((await Users.UpdateAsync("alice", u => u with { Disabled = true }, null, Ct))!.After.Disabled);
        Assert.True((await Users.FindByUsernameAsync("alice", Ct))!.Disabled);
        await Users.UpdateAsync("alice", u => u with { Disabled = false }, null, Ct);
        Assert.False((await Users.FindByUsernameAsync("alice", Ct))!.Disabled);
    }

    [Fact]
    public async Task Users_UpdateRoles_ReplacesAllRoles()
    {
        await Users.TryAddAsync(User("alice", "staff"), Ct);

        await Users.UpdateAsync("alice", u => u with { Roles = ["admin", "auditor"] }, null, Ct);
        Assert.Equal(["admin", "auditor"], (await Users.FindByUsernameAsync("alice", Ct))!.Roles);
        await Users.UpdateAsync("alice", u => u with { Roles = [] }, null, Ct);
        Assert.Empty((await Users.FindByUsernameAsync("alice", Ct))!.Roles);
    }

    [Fact]
    public async Task Users_20ConcurrentRoleChanges_NoneIsLost()
    {
        UserRecord alice = User("alice", "keep");
        await Users.TryAddAsync(alice, Ct);
        string[] added = Enumerable.Range(0, 20).Select(i => "role" + i).ToArray();

        // Each adds its own role and removes "keep" (which nobody adds back): a read-modify-write race would lose roles.
        await Task.WhenAll(added.Select(role => Task.Run(() =>
            Users.UpdateAsync("alice", u => u with { Roles = u.Roles.Where(r => r != "keep").Append(role).ToArray() }, null, Ct))));

        Assert.Equal(added.Order(), (await Users.FindByUsernameAsync("alice", Ct))!.Roles.Order());
    }

    [Fact]
    public async Task Users_UpdateWithACutOff_SetsTokensValidAfterAndRecordsItForEveryNode()
    {
        UserRecord alice = User("alice");
        await Users.TryAddAsync(alice, Ct);
        Revocation cutOff = Revocation.Of(RevocationKinds.User, alice.Id, T0.AddMinutes(5));

        UserUpdate update = (await Users.UpdateAsync("alice", u => u with { Disabled = true }, cutOff, Ct))!;

        Assert.Equal(T0.AddMinutes(5), update.After.TokensValidAfter);
        Assert.Equal(T0.AddMinutes(5), (await Users.FindByIdAsync(alice.Id, Ct))!.TokensValidAfter);
        Assert.Equal([cutOff], await AllRevocationsAsync());
    }

    // ---- Clients -----------------------------------------------------------------------------------------------------------

    private static ClientRecord Client(string clientId, string? audience = null) =>
        new(clientId, "secret-hash-" + clientId, ["client_credentials"], ["api", "read"], audience, Disabled: false, T0);

    [Fact]
    public async Task Clients_Added_AreFoundWithEveryField()
    {
        var reports = new ClientRecord("reports", "hash", ["client_credentials", "refresh_token"], ["api"], "billing-api", Disabled: true, T0, "audience");

        Assert.True(await Clients.TryAddAsync(reports, Ct));
        Assert.True(await Clients.TryAddAsync(Client("no-audience"), Ct));

        ClientRecord found = (await Clients.FindAsync("reports", Ct))!;
        Assert.Equal("hash", found.SecretHash);
        Assert.Equal(["client_credentials", "refresh_token"], found.GrantTypes);
        Assert.Equal(["api"], found.Scopes);
        Assert.Equal("billing-api", found.Audience);
        Assert.True(found.Disabled);
        Assert.Equal(T0, found.CreatedAt);
        Assert.Equal("audience", found.Introspection);
        Assert.False(found.IsPublic);
        ClientRecord plain = (await Clients.FindAsync("no-audience", Ct))!;
        Assert.Null(plain.Audience);
        Assert.Null(plain.Introspection);
        Assert.Null(await Clients.FindAsync("unknown", Ct));
    }

    [Fact]
    public async Task Clients_FirstParty_IsARowOfItsOwnAfterMigrationPublicAndEnabled()
    {
        ClientRecord firstParty = (await Clients.FindAsync("default", Ct))!;

        Assert.True(firstParty.IsPublic);
        Assert.False(firstParty.Disabled);
        Assert.Equal("", firstParty.SecretHash);
    }

    [Fact]
    public async Task Clients_TakenId_IsRefusedWithoutThrowingAndTheFirstIsKept()
    {
        await Clients.TryAddAsync(Client("reports"), Ct);

        Assert.False(await Clients.TryAddAsync(Client("reports") with { SecretHash = "other" }, Ct));

        Assert.Equal("secret-hash-reports", (await Clients.FindAsync("reports", Ct))!.SecretHash);
    }

    [Fact]
    public async Task Clients_List_IsOrderedByIdOrdinally()
    {
        foreach (string id in new[] { "web", "reports_v2", "Reports", "reports-v1", "billing" })
            await Clients.TryAddAsync(Client(id), Ct);

        // By bytes, whatever the database's locale: upper case before lower case, '-' before '_'. "default" is the first-party client's row.
        Assert.Equal(["Reports", "billing", "default", "reports-v1", "reports_v2", "web"], (await Clients.ListAsync(Ct)).Select(c => c.ClientId));
    }

    [Fact]
    public async Task Clients_Update_ChangesOnlyThatClient()
    {
        await Clients.TryAddAsync(Client("reports"), Ct);
        await Clients.TryAddAsync(Client("web"), Ct);

        ClientUpdate update = (await Clients.UpdateAsync("reports", c => c with { SecretHash = "rotated", Disabled = true, Scopes = ["read"], Introspection = "any" },
            null, Ct))!;

        ClientRecord reports = (await Clients.FindAsync("reports", Ct))!;
        Assert.Equal(reports, update.After with { GrantTypes = reports.GrantTypes, Scopes = reports.Scopes });
        Assert.Equal(("rotated", true, "any"), (reports.SecretHash, reports.Disabled, reports.Introspection));
        Assert.Equal(["read"], reports.Scopes);
        Assert.Equal("secret-hash-reports", update.Before.SecretHash);
        ClientRecord web = (await Clients.FindAsync("web", Ct))!;
        Assert.Equal("secret-hash-web", web.SecretHash);
        Assert.False(web.Disabled);
        Assert.Null(await Clients.UpdateAsync("unknown", c => c with { Disabled = true }, null, Ct));
    }

    [Fact]
    public async Task Clients_20ConcurrentScopeChanges_NoneIsLost()
    {
        await Clients.TryAddAsync(Client("reports"), Ct);
        string[] added = Enumerable.Range(0, 20).Select(i => "scope" + i).ToArray();

        await Task.WhenAll(added.Select(scope => Task.Run(() =>
            Clients.UpdateAsync("reports", c => c with { Scopes = c.Scopes.Where(s => s != "read").Append(scope).ToArray() }, null, Ct))));

        Assert.Equal(added.Append("api").Order(), (await Clients.FindAsync("reports", Ct))!.Scopes.Order());
    }

    [Fact]
    public async Task Clients_DisabledWithACutOff_RecordsTheRevocationInTheSameChange()
    {
        await Clients.TryAddAsync(Client("reports"), Ct);
        Revocation cutOff = Revocation.Of(RevocationKinds.Client, "reports", T0);

        await Clients.UpdateAsync("reports", c => c with { Disabled = true }, cutOff, Ct);

        Assert.Equal([cutOff], await AllRevocationsAsync());
    }

    [Fact]
    public async Task Clients_Removed_AreGoneTheirCutOffRecordedAndASecondRemoveIsFalse()
    {
        await Clients.TryAddAsync(Client("reports"), Ct);
        Revocation cutOff = Revocation.Of(RevocationKinds.Client, "reports", T0);

        Assert.True(await Clients.RemoveAsync("reports", cutOff, Ct));

        Assert.Null(await Clients.FindAsync("reports", Ct));
        Assert.Equal(["default"], (await Clients.ListAsync(Ct)).Select(c => c.ClientId));
        Assert.Equal([cutOff], await AllRevocationsAsync());
        Assert.False(await Clients.RemoveAsync("reports", cutOff with { At = T0.AddMinutes(1) }, Ct));
        Assert.Equal(T0, Assert.Single(await AllRevocationsAsync()).At);
        // The id is free again.
        Assert.True(await Clients.TryAddAsync(Client("reports"), Ct));
    }

    // ---- Signing keys ------------------------------------------------------------------------------------------------------

    private static SigningKeyRecord Key(string kid, DateTimeOffset activatesAt, DateTimeOffset? createdAt = null) =>
        new(kid, "ES256", $$"""{"kty":"EC","kid":"{{kid}}"}""", [1, 2, 3, 0, 255, (byte)kid.Length], createdAt ?? T0, activatesAt, RetiredAt: null);

    private static SigningKeyRecord IdKey(string kid, DateTimeOffset activatesAt, DateTimeOffset? createdAt = null) =>
        Key(kid, activatesAt, createdAt) with { Algorithm = "RS256", Purpose = SigningKeyPurposes.IdToken };

    [Fact]
    public async Task Keys_Purpose_IsStoredAndReadBack_AccessTokenByDefault()
    {
        await Keys.AddAsync(Key("access", T0), Ct);
        await Keys.AddAsync(IdKey("id", T0), Ct);

        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(T0, Ct);
        Assert.Equal(SigningKeyPurposes.AccessToken, keys.Single(k => k.KeyId == "access").Purpose);
        Assert.Equal(SigningKeyPurposes.IdToken, keys.Single(k => k.KeyId == "id").Purpose);
    }

    [Fact]
    public async Task Keys_RotatingOnePurpose_RetiresOnlyThatPurposesKeys()
    {
        await Keys.AddAsync(Key("access-1", T0), Ct);
        await Keys.AddAsync(IdKey("id-1", T0), Ct);

        Assert.True(await Keys.TryRotateAsync(IdKey("id-2", T0.AddMinutes(10), T0.AddMinutes(1)), null, Ct));

        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(DateTimeOffset.MinValue, Ct);
        Assert.Null(keys.Single(k => k.KeyId == "access-1").RetiredAt);
        Assert.Equal(T0.AddMinutes(10), keys.Single(k => k.KeyId == "id-1").RetiredAt);
        Assert.Null(keys.Single(k => k.KeyId == "id-2").RetiredAt);
    }

    [Fact]
    public async Task Keys_RotationGuard_CountsOnlyKeysOfTheSamePurpose()
    {
        await Keys.AddAsync(Key("access-1", T0, T0.AddMinutes(5)), Ct);

        // The first id-token key of an install with access-token keys is made...
        Assert.True(await Keys.TryRotateAsync(IdKey("id-1", T0.AddMinutes(6), T0.AddMinutes(6)), DateTimeOffset.MinValue, Ct));
        // ...and a second node starting at the same moment stands down.
        Assert.False(await Keys.TryRotateAsync(IdKey("id-dup", T0.AddMinutes(6), T0.AddMinutes(6)), DateTimeOffset.MinValue, Ct));
        Assert.Equal(["access-1", "id-1"], (await Keys.ListAsync(DateTimeOffset.MinValue, Ct)).Select(k => k.KeyId).Order());
    }

    [Fact]
    public async Task Keys_RevokeTheOnlyIdTokenKey_AddsAnIdTokenReplacement_ThoughAnAccessTokenKeySigns()
    {
        await Keys.AddAsync(Key("access-1", T0), Ct);
        await Keys.AddAsync(IdKey("id-1", T0), Ct);

        // The caller makes the replacement of the revoked key's algorithm; the store gives it the revoked key's purpose.
        KeyRevocationResult result = await Keys.RevokeAsync("id-1", T0.AddMinutes(2), Key("spare", T0.AddMinutes(2)) with { Algorithm = "RS256" }, Ct);

        Assert.Equal(new KeyRevocationResult(KeyRevocationStatus.RevokedReplacementAdded, "spare"), result);
        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(DateTimeOffset.MinValue, Ct);
        Assert.Equal(SigningKeyPurposes.IdToken, keys.Single(k => k.KeyId == "spare").Purpose);
        Assert.Null(keys.Single(k => k.KeyId == "access-1").RetiredAt);
    }

    [Fact]
    public async Task Keys_RevokeAPendingIdTokenKey_LeavesTheAccessTokenKeysRetirementAlone()
    {
        await Keys.AddAsync(Key("access-1", T0), Ct);
        await Keys.AddAsync(IdKey("id-1", T0), Ct);
        await Keys.TryRotateAsync(Key("access-2", T0.AddMinutes(10), T0.AddMinutes(1)), null, Ct);
        await Keys.TryRotateAsync(IdKey("id-2", T0.AddMinutes(10), T0.AddMinutes(1)), null, Ct);

        await Keys.RevokeAsync("id-2", T0.AddMinutes(2), Key("spare", T0), Ct);

        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(DateTimeOffset.MinValue, Ct);
        Assert.Null(keys.Single(k => k.KeyId == "id-1").RetiredAt); // signs on, as its successor was revoked
        Assert.Equal(T0.AddMinutes(10), keys.Single(k => k.KeyId == "access-1").RetiredAt); // still hands over to access-2
    }

    [Fact]
    public async Task Keys_Added_AreListedWithEveryField()
    {
        byte[] secret = [.. Enumerable.Range(0, 256).Select(i => (byte)i)];
        await Keys.AddAsync(Key("k1", T0.AddHours(1), T0) with { ProtectedPrivateKey = secret, Algorithm = "EdDSA" }, Ct);

        SigningKeyRecord key = Assert.Single(await Keys.ListAsync(T0, Ct));

        Assert.Equal("k1", key.KeyId);
        Assert.Equal("EdDSA", key.Algorithm);
        Assert.Equal("""{"kty":"EC","kid":"k1"}""", key.PublicJwk);
        Assert.Equal(secret, key.ProtectedPrivateKey);
        Assert.Equal(T0, key.CreatedAt);
        Assert.Equal(T0.AddHours(1), key.ActivatesAt);
        Assert.Null(key.RetiredAt);
    }

    [Fact]
    public async Task Keys_List_IsOrderedByActivationThenCreation()
    {
        await Keys.AddAsync(Key("late", T0.AddDays(2)), Ct);
        await Keys.AddAsync(Key("second-made", T0.AddDays(1), T0.AddMinutes(2)), Ct);
        await Keys.AddAsync(Key("first-made", T0.AddDays(1), T0.AddMinutes(1)), Ct);
        await Keys.AddAsync(Key("early", T0), Ct);

        Assert.Equal(["early", "first-made", "second-made", "late"], (await Keys.ListAsync(T0, Ct)).Select(k => k.KeyId));
    }

    [Fact]
    public async Task Keys_List_LeavesOutKeysRetiredAtOrBeforeTheCutoff()
    {
        await Keys.AddAsync(Key("live", T0), Ct);
        await Keys.AddAsync(Key("retired", T0), Ct);
        await Keys.RetireAsync("retired", T0.AddDays(1), Ct);

        // Retired at exactly the cutoff: out. One millisecond later: still listed (verifiers may still see its tokens).
        Assert.Equal(["live"], (await Keys.ListAsync(T0.AddDays(1), Ct)).Select(k => k.KeyId));
        IReadOnlyList<SigningKeyRecord> before = await Keys.ListAsync(T0.AddDays(1).AddMilliseconds(-1), Ct);
        Assert.Equal(["live", "retired"], before.Select(k => k.KeyId));
        Assert.Equal(T0.AddDays(1), before.Single(k => k.KeyId == "retired").RetiredAt);
    }

    [Fact]
    public async Task Keys_Retire_IsOneWayAndKeepsTheEarlierTime()
    {
        await Keys.AddAsync(Key("k1", T0), Ct);
        await Keys.RetireAsync("k1", T0.AddDays(2), Ct);

        // Later: the key keeps its earlier retirement. Earlier: it retires sooner.
        Assert.True(await Keys.RetireAsync("k1", T0.AddDays(5), Ct));
        Assert.Equal(T0.AddDays(2), (await Keys.ListAsync(T0, Ct)).Single().RetiredAt);
        Assert.True(await Keys.RetireAsync("k1", T0.AddDays(1), Ct));
        Assert.Equal(T0.AddDays(1), (await Keys.ListAsync(T0, Ct)).Single().RetiredAt);
    }

    [Fact]
    public async Task Keys_RetireUnknown_IsFalse()
    {
        await Keys.AddAsync(Key("k1", T0), Ct);

        Assert.False(await Keys.RetireAsync("no-such-key", T0, Ct));
        Assert.Null((await Keys.ListAsync(T0, Ct)).Single().RetiredAt);
    }

    [Fact]
    public async Task Keys_RevokeTheSigningKeyWithAPendingOne_BringsThePendingKeyForwardAndRecordsTheRevocation()
    {
        await Keys.AddAsync(Key("k1", T0), Ct);
        await Keys.TryRotateAsync(Key("k2", T0.AddMinutes(10), T0.AddMinutes(1)), null, Ct); // k1 stops at T0+10 min, k2 starts then

        KeyRevocationResult result = await Keys.RevokeAsync("k1", T0.AddMinutes(2), Key("spare", T0.AddMinutes(2)), Ct);

        Assert.Equal(new KeyRevocationResult(KeyRevocationStatus.RevokedPendingKeySignsNow, "k2"), result);
        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(DateTimeOffset.MinValue, Ct);
        Assert.Equal(["k1", "k2"], keys.Select(k => k.KeyId).Order());
        SigningKeyRecord k1 = keys.Single(k => k.KeyId == "k1");
        Assert.Equal((T0.AddMinutes(2), T0.AddMinutes(2)), (k1.RevokedAt, k1.RetiredAt));
        Assert.Equal(T0.AddMinutes(2), keys.Single(k => k.KeyId == "k2").ActivatesAt);
        Assert.Equal([Revocation.Of(RevocationKinds.Key, "k1", T0.AddMinutes(2))], await AllRevocationsAsync());
    }

    [Fact]
    public async Task Keys_RevokeTheOnlySigningKey_AddsTheReplacementSigningAtOnce()
    {
        await Keys.AddAsync(Key("k1", T0), Ct);

        KeyRevocationResult result = await Keys.RevokeAsync("k1", T0.AddMinutes(2), Key("spare", T0.AddHours(5), T0.AddMinutes(2)), Ct);

        Assert.Equal(new KeyRevocationResult(KeyRevocationStatus.RevokedReplacementAdded, "spare"), result);
        SigningKeyRecord spare = (await Keys.ListAsync(DateTimeOffset.MinValue, Ct)).Single(k => k.KeyId == "spare");
        Assert.Equal((T0.AddMinutes(2), (DateTimeOffset?)null, (DateTimeOffset?)null), (spare.ActivatesAt, spare.RetiredAt, spare.RevokedAt));
    }

    [Fact]
    public async Task Keys_RevokeARetiredKeyOrAPendingOne_LeavesTheSigningKeySigning()
    {
        await Keys.AddAsync(Key("old", T0), Ct);
        await Keys.TryRotateAsync(Key("current", T0.AddMinutes(1)), null, Ct);
        await Keys.TryRotateAsync(Key("pending", T0.AddMinutes(30), T0.AddMinutes(20)), null, Ct);

        Assert.Equal(KeyRevocationStatus.Revoked, (await Keys.RevokeAsync("old", T0.AddMinutes(21), Key("spare", T0), Ct)).Status);
        Assert.Equal(KeyRevocationStatus.Revoked, (await Keys.RevokeAsync("pending", T0.AddMinutes(22), Key("spare", T0), Ct)).Status);

        IReadOnlyList<SigningKeyRecord> keys = await Keys.ListAsync(DateTimeOffset.MinValue, Ct);
        Assert.DoesNotContain(keys, k => k.KeyId == "spare");
        // "current" was to stop when "pending" began; with "pending" revoked it signs on.
        Assert.Null(keys.Single(k => k.KeyId == "current").RetiredAt);
        Assert.Equal(KeyRevocationStatus.AlreadyRevoked, (await Keys.RevokeAsync("old", T0.AddMinutes(23), Key("spare", T0), Ct)).Status);
        Assert.Equal(KeyRevocationStatus.NotFound, (await Keys.RevokeAsync("none", T0.AddMinutes(23), Key("spare", T0), Ct)).Status);
    }

    // ---- Login throttling --------------------------------------------------------------------------------------------------

    private static readonly DateTimeOffset Window15 = T0.AddMinutes(-15);

    private Task<LoginThrottleCounts> ReadThrottleAsync(string user, string address, DateTimeOffset? knownSince = null) =>
        Throttle.ReadAsync(user, address, Window15, Window15, knownSince ?? T0.AddDays(-30), Ct);

    [Fact]
    public async Task Throttle_Nothing_IsZeroWithNoTimes()
    {
        Assert.Equal(new LoginThrottleCounts(0, null, 0, null, 0, null, false), await ReadThrottleAsync("user-hash", "10.0.0.1"));
    }

    [Fact]
    public async Task Throttle_Attempts_AreCountedPerPairPerUsernameAndPerAddress()
    {
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", T0.AddSeconds(1), Window15, Window15, Ct);
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.2", T0.AddSeconds(2), Window15, Window15, Ct);
        LoginAttempt third = await Throttle.StartAttemptAsync("bob-hash", "10.0.0.1", T0.AddSeconds(3), Window15, Window15, Ct);

        Assert.Equal((1, 1, 2), (third.StreakFailures, third.UsernameFailures, third.AddressFailures));
        Assert.Equal(new LoginThrottleCounts(1, T0.AddSeconds(1), 2, T0.AddSeconds(1), 2, T0.AddSeconds(1), false), await ReadThrottleAsync("alice-hash", "10.0.0.1"));
        Assert.Equal(new LoginThrottleCounts(0, null, 1, T0.AddSeconds(3), 1, T0.AddSeconds(2), false), await ReadThrottleAsync("bob-hash", "10.0.0.2"));
    }

    [Fact]
    public async Task Throttle_FailuresAtOrBeforeTheWindowStart_AreNotCounted()
    {
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", Window15, Window15, Window15, Ct);
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", T0.AddMinutes(-14), Window15, Window15, Ct);

        LoginThrottleCounts counts = await ReadThrottleAsync("alice-hash", "10.0.0.1");
        Assert.Equal((2, 1, 1), (counts.StreakFailures, counts.UsernameFailures, counts.AddressFailures));
    }

    [Fact]
    public async Task Throttle_AttemptsStartedConcurrently_EachGetsItsOwnNumber()
    {
        LoginAttempt[] attempts = await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(i => Task.Run(() =>
            Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", T0.AddMilliseconds(i), Window15, Window15, Ct))));

        Assert.Equal(Enumerable.Range(1, Concurrency), attempts.Select(a => a.StreakFailures).Order());
        Assert.Equal(Concurrency, (await ReadThrottleAsync("alice-hash", "10.0.0.1")).AddressFailures);
    }

    [Fact]
    public async Task Throttle_Success_EndsThatPairsStreakUncountsTheAttemptAndMakesTheAddressKnown()
    {
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", T0, Window15, Window15, Ct);
        await Throttle.StartAttemptAsync("alice-hash", "10.0.0.2", T0, Window15, Window15, Ct);
        LoginAttempt right = await Throttle.StartAttemptAsync("alice-hash", "10.0.0.1", T0.AddSeconds(1), Window15, Window15, Ct);

        await Throttle.AttemptSucceededAsync(right.Id, "alice-hash", "10.0.0.1", T0.AddSeconds(1), Ct);

        LoginThrottleCounts here = await ReadThrottleAsync("alice-hash", "10.0.0.1");
        Assert.Equal((0, 2, 1, true), (here.StreakFailures, here.UsernameFailures, here.AddressFailures, here.KnownAddress));
        Assert.Equal(1, (await ReadThrottleAsync("alice-hash", "10.0.0.2")).StreakFailures);
        Assert.False((await ReadThrottleAsync("alice-hash", "10.0.0.2")).KnownAddress);
        Assert.False((await ReadThrottleAsync("alice-hash", "10.0.0.1", knownSince: T0.AddSeconds(1))).KnownAddress);
    }

    [Fact]
    public async Task Throttle_Lock_StartsOnceExtendsThenEndsAndIsTakenOnceWithItsRefusedCount()
    {
        var hold = new LoginLock("pair", "alice|10.0.0.1", "alice", "10.0.0.1", T0, T0.AddSeconds(30));

        Assert.Equal((true, (LoginLock?)null), await Throttle.HoldLockAsync(hold, T0, refused: false, Ct));
        Assert.Equal((false, (LoginLock?)null), await Throttle.HoldLockAsync(hold with { StartedAt = T0.AddSeconds(5), Until = T0.AddMinutes(1) }, T0.AddSeconds(5), refused: true, Ct));
        // A refusal never shortens the lock: it is counted, and the later end stays.
        Assert.Equal((false, (LoginLock?)null), await Throttle.HoldLockAsync(hold with { StartedAt = T0.AddSeconds(6) }, T0.AddSeconds(6), refused: true, Ct));
        Assert.Empty(await Throttle.TakeEndedLocksAsync(T0.AddSeconds(59), 10, Ct));

        LoginLock[] ended = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Throttle.TakeEndedLocksAsync(T0.AddMinutes(1), 10, Ct))))
            .ContinueWith(t => t.Result.SelectMany(l => l).ToArray(), Ct);

        Assert.Equal(hold with { Until = T0.AddMinutes(1), Refused = 2 }, Assert.Single(ended));
    }

    [Fact]
    public async Task Throttle_LockHeldAgainAfterItEnded_StartsAnewAndReturnsTheEndedOne()
    {
        var hold = new LoginLock("username", "alice", "alice", null, T0, T0.AddSeconds(30));
        await Throttle.HoldLockAsync(hold, T0, refused: false, Ct);
        await Throttle.HoldLockAsync(hold, T0.AddSeconds(1), refused: true, Ct);

        (bool started, LoginLock? ended) = await Throttle.HoldLockAsync(hold with { StartedAt = T0.AddMinutes(5), Until = T0.AddMinutes(6) }, T0.AddMinutes(5), refused: false, Ct);

        Assert.True(started);
        Assert.Equal(hold with { Refused = 1 }, ended);
        Assert.Equal(T0.AddMinutes(5), Assert.Single(await Throttle.TakeEndedLocksAsync(T0.AddMinutes(7), 10, Ct)).StartedAt);
    }

    [Fact]
    public async Task Throttle_Purge_DropsOnlyWhatIsPastItsTime()
    {
        await Throttle.StartAttemptAsync("old", "10.0.0.1", T0, Window15, Window15, Ct);
        await Throttle.StartAttemptAsync("new", "10.0.0.1", T0.AddHours(1), Window15, Window15, Ct);
        LoginAttempt known = await Throttle.StartAttemptAsync("known", "10.0.0.2", T0, Window15, Window15, Ct);
        await Throttle.AttemptSucceededAsync(known.Id, "known", "10.0.0.2", T0, Ct);

        int deleted = await Throttle.PurgeAsync(T0.AddMinutes(30), T0.AddMinutes(30), T0.AddMinutes(30), Ct);

        Assert.Equal(3, deleted); // the old failure, the old streak, the old known address
        Assert.Equal(new LoginThrottleCounts(0, null, 0, null, 1, T0.AddHours(1), false),
            await Throttle.ReadAsync("old", "10.0.0.1", T0, T0, T0.AddDays(-30), Ct));
        Assert.Equal(1, (await ReadThrottleAsync("new", "10.0.0.1")).StreakFailures);
        Assert.False((await ReadThrottleAsync("known", "10.0.0.2")).KnownAddress);
    }

    // ---- Refresh tokens ----------------------------------------------------------------------------------------------------

    /// <summary>A family started at <see cref="T0"/> (absolute expiry T0 + 90 days) with one token (sliding expiry T0 + 14 days).</summary>
    private async Task<(RefreshFamilyRecord Family, RefreshTokenRecord Token)> StartFamilyAsync(string userId = "user-1", string clientId = "default",
        TimeSpan? absolute = null)
    {
        string familyId = "family-" + Guid.NewGuid().ToString("N");
        var family = new RefreshFamilyRecord(familyId, userId, clientId, T0, T0 + (absolute ?? TimeSpan.FromDays(90)), RevokedAt: null);
        RefreshTokenRecord token = Token(family, T0);
        await RefreshTokens.AddFamilyAsync(family, token, Ct);
        return (family, token);
    }

    /// <summary><paramref name="count"/> families as <see cref="StartFamilyAsync"/> starts them, and a successor for each, made at T0 + 1 h.</summary>
    private async Task<((RefreshFamilyRecord Family, RefreshTokenRecord Token)[] Started, RefreshTokenRecord[] Successors)> StartFamiliesAsync(int count)
    {
        var started = new (RefreshFamilyRecord Family, RefreshTokenRecord Token)[count];
        for (int i = 0; i < count; i++)
            started[i] = await StartFamilyAsync();
        return (started, [.. started.Select(s => Token(s.Family, T0.AddHours(1)))]);
    }

    private static RefreshTokenRecord Token(RefreshFamilyRecord family, DateTimeOffset createdAt, string? scope = "api read") =>
        new("hash-" + Guid.NewGuid().ToString("N"), family.FamilyId, family.ClientId, family.UserId, scope, createdAt, createdAt.AddDays(14), SpentAt: null);

    private static byte[] Sealed(RefreshTokenRecord successor) => System.Text.Encoding.UTF8.GetBytes("sealed:" + successor.TokenHash);

    private Task<RefreshConsumeResult> ConsumeAsync(RefreshTokenRecord token, RefreshFamilyRecord family, DateTimeOffset now, TimeSpan window,
        RefreshTokenRecord? successor = null)
    {
        successor ??= Token(family, now);
        return RefreshTokens.TryConsumeRefreshTokenAsync(token.TokenHash, successor, Sealed(successor), now, window, Ct);
    }

    [Fact]
    public async Task Refresh_AddFamily_IsFoundWithItsFamily()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();

        RefreshTokenLookup found = (await RefreshTokens.FindAsync(token.TokenHash, Ct))!;

        Assert.Equal(token, found.Token);
        Assert.Equal(family, found.Family);
        Assert.Null(found.User); // "user-1" is not in the users table
        Assert.Null(await RefreshTokens.FindAsync("hash-unknown", Ct));
    }

    [Fact]
    public async Task Refresh_Find_ReturnsTheUserAsStoredNow()
    {
        var alice = new UserRecord("id-alice", "alice", "$argon2id$hash", ["staff"], Disabled: false, T0, T0.AddMinutes(1));
        Assert.True(await Users.TryAddAsync(alice, Ct));
        (_, RefreshTokenRecord token) = await StartFamilyAsync(userId: "id-alice");
        await Users.UpdateAsync("alice", u => u with { Roles = ["admin", "staff"], Disabled = true }, null, Ct);

        UserRecord user = (await RefreshTokens.FindAsync(token.TokenHash, Ct))!.User!;

        Assert.Equal("id-alice", user.Id);
        Assert.Equal("alice", user.Username);
        Assert.Equal("$argon2id$hash", user.PasswordHash);
        Assert.Equal(["admin", "staff"], user.Roles);
        Assert.True(user.Disabled);
        Assert.Equal(T0, user.CreatedAt);
        Assert.Equal(T0.AddMinutes(1), user.PasswordChangedAt);
    }

    [Fact]
    public async Task Refresh_NoScope_IsStoredAsNoScope()
    {
        var family = new RefreshFamilyRecord("family-no-scope", "user-1", "default", T0, T0.AddDays(90), RevokedAt: null);
        RefreshTokenRecord token = Token(family, T0, scope: null);

        await RefreshTokens.AddFamilyAsync(family, token, Ct);

        Assert.Null((await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Token.Scope);
    }

    [Fact]
    public async Task Refresh_Unspent_IsConsumedAndItsSuccessorStored()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, T0.AddHours(1));

        RefreshConsumeResult result = await ConsumeAsync(token, family, T0.AddHours(1), Window, successor);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.Consumed, null, family.FamilyId), result);
        Assert.Equal(T0.AddHours(1), (await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Token.SpentAt);
        RefreshTokenLookup next = (await RefreshTokens.FindAsync(successor.TokenHash, Ct))!;
        Assert.Equal(successor, next.Token);
        Assert.Null(next.Family.RevokedAt);
    }

    [Fact]
    public async Task Refresh_SpentWithinTheWindow_IsReplayedWithTheSameSealedSuccessor()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, T0);
        await ConsumeAsync(token, family, T0, Window, successor);

        RefreshConsumeResult again = await ConsumeAsync(token, family, T0 + Window - TimeSpan.FromMilliseconds(1), Window);

        Assert.Equal(RefreshConsumeStatus.Replayed, again.Status);
        Assert.Equal(Sealed(successor), again.SealedSuccessor);
        Assert.Equal(family.FamilyId, again.FamilyId);
        // No second successor was stored, and the family lives on.
        RefreshTokenLookup next = (await RefreshTokens.FindAsync(successor.TokenHash, Ct))!;
        Assert.Null(next.Family.RevokedAt);
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(successor, family, T0.AddSeconds(1), Window)).Status);
    }

    [Fact]
    public async Task Refresh_SpentAfterTheWindow_IsReuseAndRevokesTheFamilySuccessorIncluded()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, T0);
        await ConsumeAsync(token, family, T0, Window, successor);

        // The window ends at exactly T0 + Window.
        RefreshConsumeResult reuse = await ConsumeAsync(token, family, T0 + Window, Window);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.ReuseDetected, null, family.FamilyId), reuse);
        Assert.Equal(T0 + Window, (await RefreshTokens.FindAsync(successor.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Equal([Revocation.Of(RevocationKinds.Family, family.FamilyId, T0 + Window)], await AllRevocationsAsync());
        Assert.Equal(RefreshConsumeStatus.Revoked, (await ConsumeAsync(successor, family, T0 + Window, Window)).Status);
        Assert.Equal(RefreshConsumeStatus.Revoked, (await ConsumeAsync(token, family, T0 + Window, Window)).Status);
    }

    [Fact]
    public async Task Refresh_SpentWithTheWindowOff_IsReuseAtOnce()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, T0);
        await ConsumeAsync(token, family, T0, TimeSpan.Zero, successor);

        RefreshConsumeResult reuse = await ConsumeAsync(token, family, T0, TimeSpan.Zero);

        Assert.Equal(RefreshConsumeStatus.ReuseDetected, reuse.Status);
        Assert.Null(reuse.SealedSuccessor);
        Assert.Equal(RefreshConsumeStatus.Revoked, (await ConsumeAsync(successor, family, T0, TimeSpan.Zero)).Status);
    }

    [Fact]
    public async Task Refresh_PastItsSlidingExpiry_IsExpiredAndNothingChanges()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, token.ExpiresAt);

        RefreshConsumeResult expired = await ConsumeAsync(token, family, token.ExpiresAt, Window, successor);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.Expired, null, family.FamilyId), expired);
        RefreshTokenLookup after = (await RefreshTokens.FindAsync(token.TokenHash, Ct))!;
        Assert.Null(after.Token.SpentAt);
        Assert.Null(after.Family.RevokedAt);
        Assert.Null(await RefreshTokens.FindAsync(successor.TokenHash, Ct));
        // One millisecond earlier it was still good.
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(token, family, token.ExpiresAt.AddMilliseconds(-1), Window)).Status);
    }

    [Fact]
    public async Task Refresh_PastTheFamilysAbsoluteExpiry_IsExpired()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync(absolute: TimeSpan.FromDays(1));

        RefreshConsumeResult expired = await ConsumeAsync(token, family, family.AbsoluteExpiresAt, Window);

        Assert.Equal(RefreshConsumeStatus.Expired, expired.Status);
        Assert.Null((await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Token.SpentAt);
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(token, family, family.AbsoluteExpiresAt.AddMilliseconds(-1), Window)).Status);
    }

    [Fact]
    public async Task Refresh_WithASuccessorOfAnotherFamily_IsNotFoundAndNothingChanges()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        (RefreshFamilyRecord other, _) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(other, T0.AddMinutes(1));

        RefreshConsumeResult result = await RefreshTokens.TryConsumeRefreshTokenAsync(token.TokenHash, successor, Sealed(successor), T0.AddMinutes(1), Window, Ct);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.NotFound), result);
        Assert.Null((await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Token.SpentAt);
        Assert.Null(await RefreshTokens.FindAsync(successor.TokenHash, Ct));
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(token, family, T0.AddMinutes(1), Window)).Status);
    }

    [Fact]
    public async Task Refresh_DropExpiredSeals_ClearsOnlySealsWhoseWindowEnded()
    {
        (RefreshFamilyRecord family1, RefreshTokenRecord token1) = await StartFamilyAsync();
        (RefreshFamilyRecord family2, RefreshTokenRecord token2) = await StartFamilyAsync();
        await ConsumeAsync(token1, family1, T0, Window);                          // sealed until T0 + 10 s
        RefreshTokenRecord successor2 = Token(family2, T0.AddSeconds(5));
        await ConsumeAsync(token2, family2, T0.AddSeconds(5), Window, successor2); // sealed until T0 + 15 s

        Assert.Equal(0, await RefreshTokens.DropExpiredSealsAsync(T0 + Window - TimeSpan.FromMilliseconds(1), 100, Ct));
        Assert.Equal(1, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 100, Ct));
        Assert.Equal(0, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 100, Ct));

        // The other seal is kept and still served within its window; the tokens and families are untouched.
        RefreshConsumeResult replay = await ConsumeAsync(token2, family2, T0 + Window, Window);
        Assert.Equal(RefreshConsumeStatus.Replayed, replay.Status);
        Assert.Equal(Sealed(successor2), replay.SealedSuccessor);
        Assert.Equal(T0, (await RefreshTokens.FindAsync(token1.TokenHash, Ct))!.Token.SpentAt);
        Assert.Null((await RefreshTokens.FindAsync(token1.TokenHash, Ct))!.Family.RevokedAt);
    }

    [Fact]
    public async Task Refresh_DropExpiredSeals_ClearsAtMostTheLimit()
    {
        // Three rotations in one family, each leaving a seal.
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        for (int i = 0; i < 3; i++)
        {
            RefreshTokenRecord successor = Token(family, T0);
            Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(token, family, T0, Window, successor)).Status);
            token = successor;
        }

        Assert.Equal(2, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 2, Ct));
        Assert.Equal(1, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 2, Ct));
        Assert.Equal(0, await RefreshTokens.DropExpiredSealsAsync(T0 + Window, 2, Ct));
    }

    [Fact]
    public async Task Refresh_RevokedFamily_IsRevokedAndNothingChanges()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        await RefreshTokens.RevokeFamilyAsync(family.FamilyId, T0.AddMinutes(1), Ct);

        RefreshConsumeResult revoked = await ConsumeAsync(token, family, T0.AddMinutes(2), Window);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.Revoked, null, family.FamilyId), revoked);
        RefreshTokenLookup after = (await RefreshTokens.FindAsync(token.TokenHash, Ct))!;
        Assert.Null(after.Token.SpentAt);
        Assert.Equal(T0.AddMinutes(1), after.Family.RevokedAt);
    }

    [Fact]
    public async Task Refresh_Unknown_IsNotFound()
    {
        (RefreshFamilyRecord family, _) = await StartFamilyAsync();

        RefreshConsumeResult result = await RefreshTokens.TryConsumeRefreshTokenAsync("hash-unknown", Token(family, T0), [1], T0, Window, Ct);

        Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.NotFound), result);
    }

    [Fact]
    public async Task Refresh_RevokedFamilyWithinTheWindow_IsNotReplayed()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        await ConsumeAsync(token, family, T0, Window);
        await RefreshTokens.RevokeFamilyAsync(family.FamilyId, T0.AddSeconds(1), Ct);

        RefreshConsumeResult again = await ConsumeAsync(token, family, T0.AddSeconds(2), Window);

        Assert.Equal(RefreshConsumeStatus.Revoked, again.Status);
        Assert.Null(again.SealedSuccessor);
    }

    [Fact]
    public async Task Refresh_50ConcurrentWithTheWindowOn_OneConsumesAndTheRestReplayItsSuccessor()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord[] successors = [.. Enumerable.Range(0, Concurrency).Select(_ => Token(family, T0))];

        RefreshConsumeResult[] results = await ConcurrentlyAsync(Concurrency, i => ConsumeAsync(token, family, T0, Window, successors[i]));

        int winner = Assert.Single(Enumerable.Range(0, Concurrency), i => results[i].Status == RefreshConsumeStatus.Consumed);
        Assert.All(results.Where((_, i) => i != winner), r =>
        {
            Assert.Equal(RefreshConsumeStatus.Replayed, r.Status);
            Assert.Equal(Sealed(successors[winner]), r.SealedSuccessor);
        });
        // The winner's successor is the only one stored, and it is live.
        for (int i = 0; i < Concurrency; i++)
            Assert.Equal(i == winner, await RefreshTokens.FindAsync(successors[i].TokenHash, Ct) is not null);
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(successors[winner], family, T0.AddSeconds(1), Window)).Status);
    }

    [Fact]
    public async Task Refresh_50ConcurrentWithTheWindowOff_OneConsumesTheNextRevokesTheRestSeeRevoked()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord[] successors = [.. Enumerable.Range(0, Concurrency).Select(_ => Token(family, T0))];

        RefreshConsumeResult[] results = await ConcurrentlyAsync(Concurrency, i => ConsumeAsync(token, family, T0, TimeSpan.Zero, successors[i]));

        // Presentations are serialized: the first spends the token, the second is a reuse and revokes the family, and
        // every later one finds the family revoked. Nobody gets a sealed successor.
        Assert.Equal(1, results.Count(r => r.Status == RefreshConsumeStatus.Consumed));
        Assert.Equal(1, results.Count(r => r.Status == RefreshConsumeStatus.ReuseDetected));
        Assert.Equal(Concurrency - 2, results.Count(r => r.Status == RefreshConsumeStatus.Revoked));
        Assert.All(results, r => Assert.Null(r.SealedSuccessor));
        int winner = Array.FindIndex(results, r => r.Status == RefreshConsumeStatus.Consumed);
        RefreshTokenLookup stored = (await RefreshTokens.FindAsync(successors[winner].TokenHash, Ct))!;
        Assert.NotNull(stored.Family.RevokedAt);
        Assert.Equal(RefreshConsumeStatus.Revoked, (await ConsumeAsync(successors[winner], family, T0, TimeSpan.Zero)).Status);
    }

    [Fact]
    public async Task Refresh_ManyFamiliesRotatedConcurrently_EachSpendsItsTokenAndStoresItsOwnSuccessor()
    {
        var (started, successors) = await StartFamiliesAsync(Concurrency);

        RefreshConsumeResult[] results = await ConcurrentlyAsync(Concurrency,
            i => ConsumeAsync(started[i].Token, started[i].Family, T0.AddHours(1), Window, successors[i]));

        for (int i = 0; i < Concurrency; i++)
        {
            Assert.Equal(new RefreshConsumeResult(RefreshConsumeStatus.Consumed, null, started[i].Family.FamilyId), results[i]);
            Assert.Equal(T0.AddHours(1), (await RefreshTokens.FindAsync(started[i].Token.TokenHash, Ct))!.Token.SpentAt);
            Assert.Equal(started[i].Family.FamilyId, (await RefreshTokens.FindAsync(successors[i].TokenHash, Ct))!.Family.FamilyId);
            // Each token's seal is its own successor's, not a neighbour's.
            RefreshConsumeResult replay = await ConsumeAsync(started[i].Token, started[i].Family, T0.AddHours(1), Window);
            Assert.Equal(Sealed(successors[i]), replay.SealedSuccessor);
        }
    }

    [Fact]
    public async Task Refresh_EveryOutcomeRotatedConcurrently_EachFamilyGetsItsOwnOutcomeAndOnlyItsOwnWrites()
    {
        // Eight families for each outcome, all presented at once: rotations of different families may be decided in one
        // group (on PostgreSQL, in one batch), and no family's outcome or write may leak into another's.
        RefreshConsumeStatus[] outcomes = [RefreshConsumeStatus.Consumed, RefreshConsumeStatus.Replayed, RefreshConsumeStatus.ReuseDetected,
            RefreshConsumeStatus.Revoked, RefreshConsumeStatus.Expired, RefreshConsumeStatus.NotFound];
        int count = outcomes.Length * 8;
        var (started, successors) = await StartFamiliesAsync(count);
        var presented = new RefreshTokenRecord[count];
        var earlierSuccessors = new RefreshTokenRecord?[count];
        var at = new DateTimeOffset[count];
        for (int i = 0; i < count; i++)
        {
            (RefreshFamilyRecord family, RefreshTokenRecord token) = started[i];
            (presented[i], at[i]) = (token, T0.AddHours(1));
            switch (outcomes[i % outcomes.Length])
            {
                case RefreshConsumeStatus.Replayed:
                    await ConsumeAsync(token, family, T0.AddHours(1), Window, earlierSuccessors[i] = Token(family, T0.AddHours(1)));
                    break;
                case RefreshConsumeStatus.ReuseDetected:
                    await ConsumeAsync(token, family, T0, Window, earlierSuccessors[i] = Token(family, T0));
                    break;
                case RefreshConsumeStatus.Revoked:
                    await RefreshTokens.RevokeFamilyAsync(family.FamilyId, T0, Ct);
                    break;
                case RefreshConsumeStatus.Expired:
                    at[i] = token.ExpiresAt;
                    break;
                case RefreshConsumeStatus.NotFound:
                    presented[i] = Token(family, T0);
                    break;
            }
        }

        RefreshConsumeResult[] results = await ConcurrentlyAsync(count, i => RefreshTokens.TryConsumeRefreshTokenAsync(
            presented[i].TokenHash, successors[i], Sealed(successors[i]), at[i], Window, Ct));

        for (int i = 0; i < count; i++)
        {
            RefreshConsumeStatus expected = outcomes[i % outcomes.Length];
            Assert.Equal(expected, results[i].Status);
            Assert.Equal(expected == RefreshConsumeStatus.Replayed ? Sealed(earlierSuccessors[i]!) : null, results[i].SealedSuccessor);
            // Only a consumed token's successor is stored; only a reuse revokes a family that was live.
            Assert.Equal(expected == RefreshConsumeStatus.Consumed, await RefreshTokens.FindAsync(successors[i].TokenHash, Ct) is not null);
            RefreshTokenLookup? stored = await RefreshTokens.FindAsync(started[i].Token.TokenHash, Ct);
            Assert.Equal(expected is RefreshConsumeStatus.ReuseDetected or RefreshConsumeStatus.Revoked, stored!.Family.RevokedAt is not null);
            Assert.Equal(expected is RefreshConsumeStatus.Consumed or RefreshConsumeStatus.Replayed or RefreshConsumeStatus.ReuseDetected,
                stored.Token.SpentAt is not null);
        }
    }

    [Fact]
    public async Task Refresh_OneRotationFailingAmongConcurrentOnes_FailsAloneAndLeavesItsTokenUnspent()
    {
        var (started, successors) = await StartFamiliesAsync(Concurrency);
        // A successor whose hash is already stored cannot be inserted: that rotation fails in the database.
        const int failing = Concurrency / 2;
        successors[failing] = successors[failing] with { TokenHash = started[0].Token.TokenHash };

        object[] outcomes = await ConcurrentlyAsync(Concurrency, async i =>
        {
            try
            {
                return (object)await ConsumeAsync(started[i].Token, started[i].Family, T0.AddHours(1), Window, successors[i]);
            }
            catch (DbException e)
            {
                return e;
            }
        });

        Assert.IsAssignableFrom<DbException>(outcomes[failing]);
        Assert.Null((await RefreshTokens.FindAsync(started[failing].Token.TokenHash, Ct))!.Token.SpentAt);
        for (int i = 0; i < Concurrency; i++)
        {
            if (i == failing)
                continue;
            Assert.Equal(RefreshConsumeStatus.Consumed, Assert.IsType<RefreshConsumeResult>(outcomes[i]).Status);
            Assert.NotNull(await RefreshTokens.FindAsync(successors[i].TokenHash, Ct));
        }

        // The failed rotation changed nothing: the token is still good for one rotation.
        Assert.Equal(RefreshConsumeStatus.Consumed, (await ConsumeAsync(started[failing].Token, started[failing].Family, T0.AddHours(2), Window)).Status);
    }

    [Fact]
    public async Task Refresh_RotationCancelledBeforeItStarts_ChangesNothing()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        RefreshTokenRecord successor = Token(family, T0);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            RefreshTokens.TryConsumeRefreshTokenAsync(token.TokenHash, successor, Sealed(successor), T0, Window, cancelled.Token));

        Assert.Null((await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Token.SpentAt);
        Assert.Null(await RefreshTokens.FindAsync(successor.TokenHash, Ct));
    }

    [Fact]
    public async Task Refresh_RevokeFamily_IsTrueOnceThenFalse()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync();
        (_, RefreshTokenRecord other) = await StartFamilyAsync();

        Assert.True(await RefreshTokens.RevokeFamilyAsync(family.FamilyId, T0.AddMinutes(1), Ct));
        Assert.False(await RefreshTokens.RevokeFamilyAsync(family.FamilyId, T0.AddMinutes(2), Ct));
        Assert.False(await RefreshTokens.RevokeFamilyAsync("family-unknown", T0, Ct));

        // The first revocation's time stays; other families are untouched; every node learns of it (its access tokens' sid).
        Assert.Equal(T0.AddMinutes(1), (await RefreshTokens.FindAsync(token.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Null((await RefreshTokens.FindAsync(other.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Equal([Revocation.Of(RevocationKinds.Family, family.FamilyId, T0.AddMinutes(1))], await AllRevocationsAsync());
    }

    [Fact]
    public async Task Refresh_PurgeExpired_DropsFamiliesPastTheirAbsoluteLifetimeAndExpiredTokensOnly()
    {
        (RefreshFamilyRecord shortFamily, RefreshTokenRecord shortToken) = await StartFamilyAsync(absolute: TimeSpan.FromDays(1));
        (RefreshFamilyRecord family, RefreshTokenRecord spent) = await StartFamilyAsync();
        RefreshTokenRecord live = Token(family, T0.AddDays(10));
        await ConsumeAsync(spent, family, T0.AddDays(10), Window, live);

        // At T0 + 15 days: the short family is past its absolute lifetime; the spent token past its sliding expiry (T0 + 14 days).
        int deleted = await RefreshTokens.PurgeExpiredAsync(T0.AddDays(15), 100, Ct);

        Assert.Equal(2, deleted); // the short family (its token goes with it, uncounted), and the spent token
        Assert.Null(await RefreshTokens.FindAsync(shortToken.TokenHash, Ct));
        Assert.Null(await RefreshTokens.FindAsync(spent.TokenHash, Ct));
        Assert.NotNull(await RefreshTokens.FindAsync(live.TokenHash, Ct));
        Assert.Equal(0, await RefreshTokens.PurgeExpiredAsync(T0.AddDays(15), 100, Ct));
        _ = shortFamily;
    }

    [Fact]
    public async Task Refresh_RevokeFamiliesOfUser_CountsOnlyThatUsersLiveFamilies()
    {
        (RefreshFamilyRecord revokedEarlier, _) = await StartFamilyAsync("alice");
        await RefreshTokens.RevokeFamilyAsync(revokedEarlier.FamilyId, T0, Ct);
        (_, RefreshTokenRecord alice1) = await StartFamilyAsync("alice");
        (_, RefreshTokenRecord alice2) = await StartFamilyAsync("alice", clientId: "web");
        (_, RefreshTokenRecord bob) = await StartFamilyAsync("bob");

        Assert.Equal(2, await RefreshTokens.RevokeFamiliesOfUserAsync("alice", T0.AddMinutes(1), Ct));
        Assert.Equal(0, await RefreshTokens.RevokeFamiliesOfUserAsync("alice", T0.AddMinutes(2), Ct));
        Assert.Equal(0, await RefreshTokens.RevokeFamiliesOfUserAsync("nobody", T0, Ct));

        Assert.Equal(T0.AddMinutes(1), (await RefreshTokens.FindAsync(alice1.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Equal(T0.AddMinutes(1), (await RefreshTokens.FindAsync(alice2.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Null((await RefreshTokens.FindAsync(bob.TokenHash, Ct))!.Family.RevokedAt);
    }

    [Fact]
    public async Task Refresh_RevokeFamiliesOfClient_CountsOnlyThatClientsLiveFamilies()
    {
        (_, RefreshTokenRecord web1) = await StartFamilyAsync("alice", clientId: "web");
        (_, RefreshTokenRecord web2) = await StartFamilyAsync("bob", clientId: "web");
        (_, RefreshTokenRecord other) = await StartFamilyAsync("alice", clientId: "default");

        Assert.Equal(2, await RefreshTokens.RevokeFamiliesOfClientAsync("web", T0.AddMinutes(1), Ct));
        Assert.Equal(0, await RefreshTokens.RevokeFamiliesOfClientAsync("web", T0.AddMinutes(2), Ct));

        Assert.NotNull((await RefreshTokens.FindAsync(web1.TokenHash, Ct))!.Family.RevokedAt);
        Assert.NotNull((await RefreshTokens.FindAsync(web2.TokenHash, Ct))!.Family.RevokedAt);
        Assert.Null((await RefreshTokens.FindAsync(other.TokenHash, Ct))!.Family.RevokedAt);
    }

    [Fact]
    public async Task Refresh_RevokeFamiliesOfUserWithinTheWindow_StopsReplays()
    {
        (RefreshFamilyRecord family, RefreshTokenRecord token) = await StartFamilyAsync("alice");
        await ConsumeAsync(token, family, T0, Window);

        await RefreshTokens.RevokeFamiliesOfUserAsync("alice", T0.AddSeconds(1), Ct);

        Assert.Equal(RefreshConsumeStatus.Revoked, (await ConsumeAsync(token, family, T0.AddSeconds(2), Window)).Status);
    }

    // ---- Revocations --------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Revocations_Added_AreLiveUntilTheyExpire()
    {
        var jti = new Revocation(RevocationKinds.AccessToken, "jti-1", T0, T0.AddMinutes(30));
        await Revocations.AddAsync(jti, Ct);

        Assert.Equal([jti], (await Revocations.ListLiveAsync(T0, Ct)).Revocations);
        Assert.Equal([jti], (await Revocations.ListLiveAsync(T0.AddMinutes(30).AddMilliseconds(-1), Ct)).Revocations);
        // Once every token it refuses has expired, the revocation no longer counts.
        Assert.Empty((await Revocations.ListLiveAsync(T0.AddMinutes(30), Ct)).Revocations);
    }

    [Fact]
    public async Task Revocations_ListRecordedSince_ReturnsOnlyThoseTheDatabaseRecordedAtOrAfterIt()
    {
        Revocation early = Revocation.Of(RevocationKinds.Family, "f1", T0);
        await Revocations.AddAsync(early, Ct);
        await MoveRecordedAtAsync("f1", TimeSpan.FromMinutes(-1)); // recorded a minute before what follows
        RevocationsRead first = await Revocations.ListRecordedSinceAsync(DateTimeOffset.MinValue, Ct);
        // The at of a revocation is the time of the node that made it: far in the past here, yet recorded now.
        Revocation late = Revocation.Of(RevocationKinds.User, "u1", T0.AddYears(-1));
        await Revocations.AddAsync(late, Ct);

        RevocationsRead second = await Revocations.ListRecordedSinceAsync(first.DatabaseNow, Ct);

        Assert.Equal([early], first.Revocations);
        Assert.Equal([late], second.Revocations);
        Assert.True(second.DatabaseNow >= first.DatabaseNow);
        Assert.InRange(second.DatabaseNow, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5)); // the database's clock
    }

    [Fact]
    public async Task Revocations_CutOffMadeAgain_IsRecordedAgainSoEveryNodeReadsIt()
    {
        await Revocations.AddAsync(Revocation.Of(RevocationKinds.User, "u1", T0), Ct);
        await MoveRecordedAtAsync("u1", TimeSpan.FromMinutes(-10));
        DateTimeOffset since = (await Revocations.ListRecordedSinceAsync(DateTimeOffset.MinValue, Ct)).DatabaseNow;

        await Revocations.AddAsync(Revocation.Of(RevocationKinds.User, "u1", T0.AddMinutes(5)), Ct);

        Assert.Equal([Revocation.Of(RevocationKinds.User, "u1", T0.AddMinutes(5))], (await Revocations.ListRecordedSinceAsync(since, Ct)).Revocations);
    }

    /// <summary>Moves when the database recorded a revocation, as if it had been recorded that much earlier.</summary>
    private async Task MoveRecordedAtAsync(string id, TimeSpan by)
    {
        await using DbConnection connection = await Database.OpenAsync(Ct);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = $"UPDATE revocations SET recorded_at = recorded_at + ({(long)by.TotalMilliseconds}) WHERE id = '{id}'";
        await command.ExecuteNonQueryAsync(Ct);
    }

    private async Task<IReadOnlyList<Revocation>> AllRevocationsAsync() =>
        (await Revocations.ListRecordedSinceAsync(DateTimeOffset.MinValue, Ct)).Revocations;

    [Fact]
    public async Task Revocations_SameKindAndIdAgain_KeepsTheLaterCutOffWhicheverArrivesFirst()
    {
        await Revocations.AddAsync(Revocation.Of(RevocationKinds.User, "u1", T0.AddMinutes(5)), Ct);
        await Revocations.AddAsync(Revocation.Of(RevocationKinds.User, "u1", T0.AddMinutes(1)), Ct);
        // The same id under another kind is another revocation.
        await Revocations.AddAsync(Revocation.Of(RevocationKinds.Client, "u1", T0), Ct);

        Assert.Equal([Revocation.Of(RevocationKinds.User, "u1", T0.AddMinutes(5))],
            (await Revocations.ListLiveAsync(T0, Ct)).Revocations.Where(r => r.Kind == RevocationKinds.User));
        Assert.Equal(2, (await Revocations.ListLiveAsync(T0, Ct)).Revocations.Count);
    }

    [Fact]
    public async Task Revocations_PurgeExpired_DropsOnlyExpiredOnesUpToTheLimit()
    {
        for (int i = 0; i < 3; i++)
            await Revocations.AddAsync(new Revocation(RevocationKinds.AccessToken, "old" + i, T0, T0.AddMinutes(1)), Ct);
        await Revocations.AddAsync(new Revocation(RevocationKinds.AccessToken, "live", T0, T0.AddMinutes(60)), Ct);

        Assert.Equal(2, await Revocations.PurgeExpiredAsync(T0.AddMinutes(5), 2, Ct));
        Assert.Equal(1, await Revocations.PurgeExpiredAsync(T0.AddMinutes(5), 2, Ct));

        Assert.Equal(["live"], (await AllRevocationsAsync()).Select(r => r.Id));
    }

    // ---- Audit log ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Audit_Written_IsReadBackWithEveryField()
    {
        var full = new AuditEvent(T0, "login", "failure", "alice", "alice", "default", "10.0.0.1", "wrong password");
        var bare = new AuditEvent(T0.AddSeconds(1), "key_rotated", "success");
        await Audit.WriteAsync(full, Ct);
        await Audit.WriteAsync(bare, Ct);

        Assert.Equal([full, bare], await Audit.ReadAsync(T0, Ct));
    }

    [Fact]
    public async Task Audit_Read_StartsAtSinceInclusive()
    {
        await Audit.WriteAsync(new AuditEvent(T0.AddMilliseconds(-1), "a", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "b", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0.AddDays(1), "c", "success"), Ct);

        Assert.Equal(["b", "c"], (await Audit.ReadAsync(T0, Ct)).Select(e => e.Type));
        Assert.Empty(await Audit.ReadAsync(T0.AddDays(1).AddMilliseconds(1), Ct));
    }

    [Fact]
    public async Task Audit_Read_IsInTheOrderWritten()
    {
        // Events written in the same millisecond, or by a node whose clock is a little behind, keep the order they were written in.
        await Audit.WriteAsync(new AuditEvent(T0, "first", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "second", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0.AddMilliseconds(-5), "third", "success"), Ct);

        Assert.Equal(["first", "second", "third"], (await Audit.ReadAsync(T0.AddMinutes(-1), Ct)).Select(e => e.Type));
    }

    [Fact]
    public async Task Audit_ReadForUsers_MatchesActorOrSubject()
    {
        await Audit.WriteAsync(new AuditEvent(T0, "login", "success", Actor: "alice", Subject: "alice"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "user_disabled", "success", Actor: "admin", Subject: "bob"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "role_changed", "success", Actor: "bob", Subject: "carol"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "key_rotated", "success"), Ct);

        Assert.Equal(["user_disabled", "role_changed"], (await Audit.ReadAsync(new AuditQuery(T0, ["bob"]), Ct)).Select(e => e.Type));
        Assert.Equal(["login", "role_changed"], (await Audit.ReadAsync(new AuditQuery(T0, ["alice", "carol"]), Ct)).Select(e => e.Type));
        Assert.Empty(await Audit.ReadAsync(new AuditQuery(T0, ["nobody"]), Ct));
        Assert.Equal(4, (await Audit.ReadAsync(new AuditQuery(T0, []), Ct)).Count);
    }

    [Fact]
    public async Task Audit_DeleteBefore_RemovesOnlyOlderEventsAndCountsThem()
    {
        await Audit.WriteAsync(new AuditEvent(T0.AddDays(-2), "old", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0.AddMilliseconds(-1), "older", "success"), Ct);
        await Audit.WriteAsync(new AuditEvent(T0, "kept", "success"), Ct);

        Assert.Equal(2, await Audit.DeleteBeforeAsync(T0, Ct));

        Assert.Equal(["kept"], (await Audit.ReadAsync(DateTimeOffset.UnixEpoch, Ct)).Select(e => e.Type));
        Assert.Equal(0, await Audit.DeleteBeforeAsync(T0, Ct));
    }

    // ---- Schema ------------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Schema_Migrated_IsAtTheLatestVersion()
    {
        Assert.Equal(Database.LatestSchemaVersion, await Database.GetSchemaVersionAsync(Ct));
    }

    [Fact]
    public async Task Schema_EmptyDatabase_IsVersionZeroUntilMigrated()
    {
        SqlDatabase fresh = Open(await CreateDatabaseAsync());

        Assert.Equal(0, await fresh.GetSchemaVersionAsync(Ct));
        await fresh.MigrateAsync(Ct);
        Assert.Equal(fresh.LatestSchemaVersion, await fresh.GetSchemaVersionAsync(Ct));
    }

    [Fact]
    public async Task Schema_MigrateAgain_ChangesNothing()
    {
        await Users.TryAddAsync(User("alice"), Ct);

        await Database.MigrateAsync(Ct);
        await Database.MigrateAsync(Ct);

        Assert.Equal(Database.LatestSchemaVersion, await Database.GetSchemaVersionAsync(Ct));
        Assert.NotNull(await Users.FindByUsernameAsync("alice", Ct));
        await using DbConnection connection = await Database.OpenAsync(Ct);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM schema_version";
        Assert.Equal(Database.LatestSchemaVersion, Convert.ToInt32(await command.ExecuteScalarAsync(Ct)));
    }

    [Fact]
    public async Task Schema_SeveralNodesMigratingAtOnce_AllSucceedAndMigrateOnce()
    {
        Action<LatchkeyOptions> configure = await CreateDatabaseAsync();
        SqlDatabase[] nodes = [.. Enumerable.Range(0, 4).Select(_ => Open(configure))];

        await ConcurrentlyAsync(nodes.Length, i => nodes[i].MigrateAsync(Ct));

        await using DbConnection connection = await nodes[0].OpenAsync(Ct);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM schema_version";
        Assert.Equal(nodes[0].LatestSchemaVersion, Convert.ToInt32(await command.ExecuteScalarAsync(Ct)));
    }

    [Fact]
    public async Task Schema_NewerThanThisBuild_RefusesToStartAndSaysToUpgrade()
    {
        int newer = Database.LatestSchemaVersion + 1;
        await using (DbConnection connection = await Database.OpenAsync(Ct))
        await using (DbCommand command = connection.CreateCommand())
        {
            command.CommandText = $"INSERT INTO schema_version (version) VALUES ({newer})";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var e = await Assert.ThrowsAsync<LatchkeyStartupException>(() => Database.MigrateAsync(Ct));

        Assert.Contains($"has schema version {newer}, but this Latchkey knows only up to {Database.LatestSchemaVersion}", e.Message);
        Assert.Contains("Upgrade Latchkey", e.Message);
        Assert.Equal(newer, await Database.GetSchemaVersionAsync(Ct));
    }

    private ISecondFactorStore Factors => Services.GetRequiredService<ISecondFactorStore>();

    [Fact]
    public async Task Challenge_TakenOnce_EvenByConcurrentCallers_ExpiredOnesPurged()
    {
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        bool[] taken = await ConcurrentlyAsync(8, _ => Factors.UseChallengeAsync("challenge-1", now.AddMinutes(5), now, Ct));
        Assert.Single(taken, t => t);
        Assert.True(await Factors.UseChallengeAsync("challenge-2", now.AddMinutes(5), now, Ct));

        // After challenge-1 expired its row goes (the next take purges it); challenge-2's stays until it expires too.
        Assert.True(await Factors.UseChallengeAsync("challenge-3", now.AddMinutes(11), now.AddMinutes(6), Ct));
        await using DbConnection connection = await Database.OpenAsync(Ct);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM used_challenges";
        Assert.Equal(1, Convert.ToInt32(await command.ExecuteScalarAsync(Ct)));
    }

    [Fact]
    public async Task Passkey_UseMovesTheCounterOnlyFromTheStoredValue_OncePerValue()
    {
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        byte[] id = [1, 2, 3, 4];
        var passkey = new PasskeyRecord(id, "user-1", "Laptop", [9, 9, 9], 5, BackupEligible: true, BackedUp: false, "internal hybrid", now, null);
        Assert.True(await Factors.AddPasskeyAsync(passkey, Ct));
        Assert.False(await Factors.AddPasskeyAsync(passkey with { UserId = "user-2" }, Ct)); // a credential id is stored once

        bool[] used = await ConcurrentlyAsync(6, _ => Factors.UsePasskeyAsync(id, 5, 6, backedUp: true, now.AddMinutes(1), Ct));
        Assert.Single(used, u => u);
        Assert.False(await Factors.UsePasskeyAsync(id, 5, 7, backedUp: true, now.AddMinutes(2), Ct)); // from a stale counter

        PasskeyRecord stored = (await Factors.FindPasskeyAsync(id, Ct))!;
        Assert.Equal((6u, true, true, "internal hybrid", "user-1"), (stored.SignCount, stored.BackupEligible, stored.BackedUp, stored.Transports, stored.UserId));
        Assert.Equal(now.AddMinutes(1), stored.LastUsedAt);
        Assert.Equal(["Laptop"], (await Factors.ListPasskeysAsync("user-1", Ct)).Select(p => p.Name));

        // Renamed and removed only by its owner.
        Assert.False(await Factors.RenamePasskeyAsync("user-2", id, "Mine", Ct));
        Assert.True(await Factors.RenamePasskeyAsync("user-1", id, "Work laptop", Ct));
        Assert.False(await Factors.RemovePasskeyAsync("user-2", id, Ct));
        Assert.Equal("Work laptop", (await Factors.FindPasskeyAsync(id, Ct))!.Name);
        Assert.True(await Factors.RemovePasskeyAsync("user-1", id, Ct));
        Assert.Null(await Factors.FindPasskeyAsync(id, Ct));
    }

    [Fact]
    public async Task CodeAttempts_CountedWithoutAnAuthenticatorApp_LockAtTheMax_ThenOneTryAfterTheLockout()
    {
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
        for (int i = 1; i <= 3; i++)
            Assert.Equal(i, await Factors.StartCodeAttemptAsync("user-1", 3, now.AddHours(-1), now, Ct));
        Assert.Null(await Factors.StartCodeAttemptAsync("user-1", 3, now.AddHours(-1), now, Ct));
        Assert.Equal(4, await Factors.StartCodeAttemptAsync("user-1", 3, now, now.AddHours(1), Ct)); // the lockout has passed
        await Factors.ClearFailuresAsync("user-1", Ct);
        Assert.Equal(1, await Factors.StartCodeAttemptAsync("user-1", 3, now, now.AddHours(1), Ct));
    }

    /// <summary>Runs <paramref name="count"/> calls at once, each on its own thread (and so its own connection), released together.</summary>
    private static async Task<T[]> ConcurrentlyAsync<T>(int count, Func<int, Task<T>> call)
    {
        using var start = new ManualResetEventSlim(false);
        Task<T>[] tasks = [.. Enumerable.Range(0, count).Select(i => Task.Run(() =>
        {
            start.Wait(Ct);
            return call(i);
        }))];
        start.Set();
        return await Task.WhenAll(tasks);
    }

    private static Task ConcurrentlyAsync(int count, Func<int, Task> call) =>
        ConcurrentlyAsync(count, async i =>
        {
            await call(i);
            return true;
        });
}

/// <summary>The conformance suite on SQLite: a fresh data folder per test.</summary>
public sealed class SqliteStoreConformanceTests : StoreConformanceTests
{
    private readonly List<string> _folders = [];

    protected override Task<Action<LatchkeyOptions>> CreateDatabaseAsync()
    {
        string folder = Directory.CreateTempSubdirectory("latchkey-store-").FullName;
        _folders.Add(folder);
        return Task.FromResult<Action<LatchkeyOptions>>(o => o.DataDirectory = folder);
    }

    protected override ValueTask DeleteDatabasesAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string folder in _folders)
            Directory.Delete(folder, recursive: true);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The conformance suite on PostgreSQL: a fresh database per test in the test run's cluster (skipped when PostgreSQL is not installed).</summary>
public sealed class PostgresStoreConformanceTests : StoreConformanceTests
{
    private readonly List<string> _databases = [];

    protected override async Task<Action<LatchkeyOptions>> CreateDatabaseAsync()
    {
        string database = await PostgresCluster.CreateDatabaseAsync(TestContext.Current.CancellationToken);
        _databases.Add(database);
        return o => o.Database = database;
    }

    protected override async ValueTask DeleteDatabasesAsync()
    {
        foreach (string database in _databases)
            await PostgresCluster.DropDatabaseAsync(database);
    }
}
