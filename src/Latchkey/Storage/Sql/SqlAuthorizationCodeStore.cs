using System.Data.Common;

namespace Latchkey.Storage.Sql;

internal sealed class SqlAuthorizationCodeStore(SqlDatabase database) : IAuthorizationCodeStore
{
    private const string Columns = "code_hash, client_id, redirect_uri, code_challenge, nonce, scope, session_id, user_id, auth_time, expires_at, " +
        "redeemed_at, issued_family_id, issued_jti, issued_expires_at, amr";

    public async Task AddAsync(AuthorizationCodeRecord code, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, nonce, scope, session_id, user_id, auth_time, expires_at, amr)
            VALUES (@hash, @client, @redirect, @challenge, @nonce, @scope, @session, @user, @auth, @expires, @amr)
            """)
            .Add("@hash", code.CodeHash)
            .Add("@client", code.ClientId)
            .Add("@redirect", code.RedirectUri)
            .Add("@challenge", code.CodeChallenge)
            .Add("@nonce", code.Nonce)
            .Add("@scope", code.Scope)
            .Add("@session", code.SessionId)
            .Add("@user", code.UserId)
            .Add("@auth", code.AuthTime)
            .Add("@expires", code.ExpiresAt)
            .Add("@amr", code.Amr);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<CodeRedemption?> RedeemAsync(string codeHash, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        // One statement each, so the check and the mark are one atomic step on both engines.
        await using DbCommand first = connection.CreateCommand($"""
            UPDATE authorization_codes SET redeemed_at = @at WHERE code_hash = @hash AND redeemed_at IS NULL RETURNING {Columns}
            """)
            .Add("@hash", codeHash)
            .Add("@at", at);
        if (await ReadOneAsync(first, cancellationToken) is { } redeemed)
            return new CodeRedemption(redeemed, First: true);
        await using DbCommand again = connection.CreateCommand($"""
            UPDATE authorization_codes SET replayed_at = @at WHERE code_hash = @hash RETURNING {Columns}
            """)
            .Add("@hash", codeHash)
            .Add("@at", at);
        return await ReadOneAsync(again, cancellationToken) is { } replayed ? new CodeRedemption(replayed, First: false) : null;
    }

    public async Task<bool> RecordIssuedAsync(string codeHash, string? familyId, string jwtId, DateTimeOffset accessTokenExpiresAt,
        CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            UPDATE authorization_codes SET issued_family_id = @family, issued_jti = @jti, issued_expires_at = @expires WHERE code_hash = @hash
            RETURNING replayed_at
            """)
            .Add("@hash", codeHash)
            .Add("@family", familyId)
            .Add("@jti", jwtId)
            .Add("@expires", accessTokenExpiresAt);
        object? replayedAt = await command.ExecuteScalarAsync(cancellationToken);
        return replayedAt is not null and not DBNull;
    }

    public async Task<int> RemoveUnredeemedAsync(string userId, string clientId, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM authorization_codes WHERE user_id = @user AND client_id = @client AND redeemed_at IS NULL
            """)
            .Add("@user", userId)
            .Add("@client", clientId);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbCommand command = connection.CreateCommand("""
            DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE expires_at < @before LIMIT @limit)
            """)
            .Add("@before", before)
            .Add("@limit", (long)limit);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<AuthorizationCodeRecord?> ReadOneAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new AuthorizationCodeRecord(
            CodeHash: reader.GetString(0),
            ClientId: reader.GetString(1),
            RedirectUri: reader.GetString(2),
            CodeChallenge: reader.GetString(3),
            Nonce: reader.GetStringOrNull(4),
            Scope: reader.GetStringOrNull(5),
            SessionId: reader.GetString(6),
            UserId: reader.GetString(7),
            AuthTime: reader.GetTime(8),
            ExpiresAt: reader.GetTime(9),
            RedeemedAt: reader.GetTimeOrNull(10),
            IssuedFamilyId: reader.GetStringOrNull(11),
            IssuedJwtId: reader.GetStringOrNull(12),
            IssuedExpiresAt: reader.GetTimeOrNull(13),
            Amr: reader.GetString(14));
    }
}
