using System.Data.Common;
using Latchkey.Storage.Postgres;
using Latchkey.Storage.Sql;
using Latchkey.Testing;
using Npgsql;

namespace Latchkey.Tests.Storage;

/// <summary>The Npgsql settings Latchkey chooses when the connection string leaves them out, and only then; TLS to remote hosts.</summary>
public sealed class PostgresConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Host=db.internal;Database=latchkey")]
    [InlineData("postgres://latchkey:pw@db.internal:5433/latchkey")]
    public void Defaults_WhenUnset_PrepareRepeatedStatementsAndSkipTheSessionReset(string connection)
    {
        NpgsqlConnectionStringBuilder builder = PostgresConnectionString.WithLatchkeyDefaults(PostgresConnectionString.Normalize(connection));

        Assert.Equal(32, builder.MaxAutoPrepare);
        Assert.True(builder.NoResetOnClose);
        Assert.Equal("db.internal", builder.Host);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0;No Reset On Close=false", 0)]
    [InlineData("Host=db;MaxAutoPrepare=5;NoResetOnClose=false", 5)]
    [InlineData("postgres://u@db/latchkey?Max%20Auto%20Prepare=0&No%20Reset%20On%20Close=false", 0)]
    public void Defaults_WhenTheConnectionStringSetsThem_AreTheOperators(string connection, int maxAutoPrepare)
    {
        NpgsqlConnectionStringBuilder builder = PostgresConnectionString.WithLatchkeyDefaults(PostgresConnectionString.Normalize(connection));

        Assert.Equal(maxAutoPrepare, builder.MaxAutoPrepare);
        Assert.False(builder.NoResetOnClose);
    }

    private static NpgsqlConnectionStringBuilder WithDefaults(string connection) =>
        PostgresConnectionString.WithLatchkeyDefaults(PostgresConnectionString.Normalize(connection));

    [Theory]
    [InlineData("Host=db.internal;Database=latchkey;Username=latchkey")]
    [InlineData("Host=10.0.0.5;Port=5432")]
    [InlineData("Server=db.internal")]
    [InlineData("postgres://latchkey:pw@db.internal:5433/latchkey")]
    [InlineData("postgresql://latchkey@[2001:db8::5]:5432/latchkey")]
    public void Tls_RemoteHostWithoutAMode_IsVerifyFullWithoutAWarning(string connection)
    {
        Assert.Equal(SslMode.VerifyFull, WithDefaults(connection).SslMode);
        Assert.Null(PostgresConnectionString.WeakTlsWarning(connection));
    }

    [Theory]
    [InlineData("Host=localhost;Database=latchkey")]
    [InlineData("Host=LOCALHOST:5433")]
    [InlineData("Host=127.0.0.1")]
    [InlineData("Host=127.8.9.10:5433")]
    [InlineData("Host=::1")]
    [InlineData("Host=[::1]:5433")]
    [InlineData("Host=::ffff:127.0.0.1")]
    [InlineData("Host=/var/run/postgresql")]
    [InlineData("postgres://latchkey:pw@localhost/latchkey")]
    [InlineData("postgres://latchkey:pw@127.0.0.1:5433/latchkey")]
    [InlineData("postgres://latchkey:pw@[::1]:5433/latchkey")]
    public void Tls_LoopbackHostOrUnixSocket_KeepsNpgsqlsDefault(string connection)
    {
        Assert.Equal(new NpgsqlConnectionStringBuilder().SslMode, WithDefaults(connection).SslMode);
        Assert.Null(PostgresConnectionString.WeakTlsWarning(connection));
    }

    [Theory]
    [InlineData("Host=localhost,127.0.0.2:5433,[::1]:5434,/tmp", false)]
    [InlineData("Host=localhost,db-replica.internal", true)]
    [InlineData("Host=db-primary.internal:5432,127.0.0.1:5433", true)]
    [InlineData("Host=/var/run/postgresql,10.0.0.7", true)]
    public void Tls_SeveralHosts_VerifyFullUnlessEveryOneIsLoopback(string connection, bool verifyFull) =>
        Assert.Equal(verifyFull ? SslMode.VerifyFull : new NpgsqlConnectionStringBuilder().SslMode, WithDefaults(connection).SslMode);

    [Theory]
    [InlineData("Host=db.internal;Username=latchkey;Password=hunter2-Pa55;SSL Mode=Require", "Require")]
    [InlineData("Host=db.internal;Password=hunter2-Pa55;SslMode=Disable", "Disable")]
    [InlineData("Host=db.internal;Password=hunter2-Pa55;sslmode=prefer", "Prefer")]
    [InlineData("Host=db.internal;Password=hunter2-Pa55;SSL Mode=VerifyCA", "VerifyCA")]
    [InlineData("postgres://latchkey:hunter2-Pa55@db.internal:5432/latchkey?sslmode=require", "Require")]
    [InlineData("postgres://latchkey:hunter2-Pa55@db.internal/latchkey?sslmode=verify-ca", "VerifyCA")]
    public void Tls_WeakerExplicitModeToARemoteHost_IsKeptWithAWarningNamingModeHostAndFix(string connection, string mode)
    {
        Assert.Equal(Enum.Parse<SslMode>(mode), WithDefaults(connection).SslMode);

        string? warning = PostgresConnectionString.WeakTlsWarning(connection);

        Assert.NotNull(warning);
        Assert.Contains($"SSL Mode={mode}", warning);
        Assert.Contains("db.internal", warning);
        Assert.Contains("SSL Mode=VerifyFull", warning);
        Assert.Contains("sslmode=verify-full", warning);
        Assert.Contains("Root Certificate=", warning);
        Assert.DoesNotContain("hunter2-Pa55", warning);
    }

    [Theory]
    [InlineData("Host=db-a.internal,localhost;SSL Mode=Require")]
    [InlineData("Host=localhost,db-b.internal;SSL Mode=Require")]
    public void Tls_WeakerModeToSeveralHostsOneRemote_WarnsNamingTheHosts(string connection)
    {
        string? warning = PostgresConnectionString.WeakTlsWarning(connection);

        Assert.NotNull(warning);
        Assert.Contains(new NpgsqlConnectionStringBuilder(connection).Host!, warning);
    }

    [Theory]
    [InlineData("Host=localhost;SSL Mode=Disable")]
    [InlineData("Host=127.0.0.1,/tmp;SSL Mode=Require")]
    [InlineData("Host=db.internal;SSL Mode=VerifyFull")]
    [InlineData("")]
    [InlineData("Host=db.internal;Nonsense Keyword=1")]
    public void Tls_LoopbackOrVerifyFullOrNotPostgres_NoWarning(string connection) =>
        Assert.Null(PostgresConnectionString.WeakTlsWarning(connection));

    [Fact]
    public void Tls_UrlWithLibpqNames_GivesNpgsqlTheModeAndTheCa()
    {
        NpgsqlConnectionStringBuilder builder = WithDefaults("postgres://latchkey:pw@db.internal/latchkey?sslmode=verify-full&sslrootcert=%2Fetc%2Flatchkey%2Fdb-ca.pem");

        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/etc/latchkey/db-ca.pem", builder.RootCertificate);
    }

    [Fact]
    public void Tls_ConnectionStringWithRootCertificate_KeepsItAndVerifiesFully()
    {
        NpgsqlConnectionStringBuilder builder = WithDefaults("Host=db.internal;Database=latchkey;Root Certificate=/etc/latchkey/db-ca.pem");

        Assert.Equal(SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/etc/latchkey/db-ca.pem", builder.RootCertificate);
    }

    [Fact]
    public async Task OnAServer_AStatementRunRepeatedly_IsPreparedOnItsConnection()
    {
        string connection = await PostgresCluster.CreateDatabaseAsync(Ct);
        try
        {
            await using var database = new PostgresDatabase(connection);
            await using DbConnection open = await database.OpenAsync(Ct);
            for (int i = 0; i < 6; i++)
            {
                await using DbCommand repeated = open.CreateCommand("SELECT @value::int + 1").Add("@value", (long)i);
                await repeated.ExecuteScalarAsync(Ct);
            }

            await using DbCommand prepared = open.CreateCommand("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%+ 1%'");
            Assert.Equal(1L, await prepared.ExecuteScalarAsync(Ct));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresCluster.DropDatabaseAsync(connection);
        }
    }
}
