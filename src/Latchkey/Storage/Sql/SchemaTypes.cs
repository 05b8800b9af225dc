namespace Latchkey.Storage.Sql;

/// <summary>
/// The words in which the DDL of SQLite and of PostgreSQL differ: everything else in <see cref="Schema"/> is the same
/// text on both. Each database supplies its own.
/// </summary>
/// <param name="Integer">A 64-bit integer column: times are Unix milliseconds, past the range of 32 bits.</param>
/// <param name="Bytes">A column of raw bytes (keys, sealed tokens).</param>
/// <param name="IdentityKey">A primary key whose values the database assigns, ascending, never handing one out twice.</param>
/// <param name="NowMilliseconds">
/// The database's clock in Unix milliseconds, for rows a migration stamps. Written out apart from
/// <see cref="SqlDatabase.NowMillisecondsSql"/>, so that a shipped migration's text does not change with it.
/// </param>
/// <param name="NowMillisecondsOfDefaultClient">
/// The same clock, for the first-party client row of migration 3: PostgreSQL's migration spelled it another way there
/// (a <c>::BIGINT</c> cast), and a migration that has shipped keeps its text.
/// </param>
internal sealed record SchemaTypes(
    string Integer,
    string Bytes,
    string IdentityKey,
    string NowMilliseconds,
    string NowMillisecondsOfDefaultClient);
