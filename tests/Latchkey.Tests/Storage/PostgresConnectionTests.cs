using System.Data.Common;
using Latchkey.Storage.Postgres;
using Latchkey.Storage.Sql;
using Latchkey.Testing;
using Npgsql;

namespace Latchkey.Tests.Storage;

/// <summary>The Npgsql settings Latchkey chooses when the connection string leaves them out, and only then.</summary>
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
