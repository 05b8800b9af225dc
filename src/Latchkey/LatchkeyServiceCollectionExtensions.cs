using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Endpoints;
using Latchkey.Grants;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>AddLatchkey()</c>: everything Latchkey needs, for the server or for an app that embeds it.</summary>
public static class LatchkeyServiceCollectionExtensions
{
    /// <summary>
    /// Registers Latchkey: options (bound from <paramref name="configuration"/>, then <paramref name="configure"/>),
    /// validated at start-up; the database (SQLite in the data folder, or PostgreSQL); accounts, keys, tokens, grants; the
    /// <c>Latchkey</c> bearer authentication scheme; health checks; and OpenTelemetry metrics with a Prometheus exporter. Pair with <c>app.MapLatchkey()</c>.
    /// </summary>
    public static IServiceCollection AddLatchkey(this IServiceCollection services, IConfiguration? configuration = null, Action<Latchkey.LatchkeyOptions>? configure = null)
    {
        OptionsBuilder<Latchkey.LatchkeyOptions> options = services.AddOptions<Latchkey.LatchkeyOptions>();
        if (configuration is not null)
            options.Bind(configuration);
        if (configure is not null)
            options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Latchkey.LatchkeyOptions>, Latchkey.LatchkeyOptionsValidator>());

        services.TryAddSingleton(TimeProvider.System);
        // The server caches client records briefly (CachingClientStore); the CLI's AddLatchkeyStorage() does not.
        services.TryAddSingleton<SqlClientStore>();
        services.TryAddSingleton(sp => new CachingClientStore(sp.GetRequiredService<SqlClientStore>(),
            sp.GetRequiredService<IOptions<Latchkey.LatchkeyOptions>>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Revocations>()));
        services.TryAddSingleton<IClientStore>(sp => sp.GetRequiredService<CachingClientStore>());
        services.AddSingleton(sp => new PasswordHashingGate(Options(sp).PasswordHashing));
        services.AddLatchkeyAccounts();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<PasswordLogin>();
        services.AddSingleton<AccessTokenIssuer>();
        services.AddSingleton<AccessTokenValidator>();
        services.AddHostedService<RevocationsSync>();
        services.AddSingleton<Latchkey.Housekeeping>();
        services.AddHostedService(sp => sp.GetRequiredService<Latchkey.Housekeeping>());
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<PasswordGrant>();
        services.AddSingleton<ClientCredentialsGrant>();
        services.AddSingleton<RefreshTokenGrant>();
        services.AddSingleton<RefreshTokens>();
        services.AddMetrics();
        services.AddSingleton(sp => new Latchkey.LatchkeyMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            sp.GetRequiredService<SigningKeyRing>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Latchkey.LatchkeyInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<Latchkey.LatchkeyInitializer>());
        services.AddHostedService<SigningKeyMaintenance>();
        services.AddHostedService<Latchkey.Storage.Sqlite.SqliteCheckpoints>();
        // Security headers, client addresses behind trusted proxies and the rate limit: middleware, so a startup filter.
        services.TryAddEnumerable(ServiceDescriptor.Transient<Microsoft.AspNetCore.Hosting.IStartupFilter, HttpEdge>());
        services.TryAddSingleton<RequestRateLimit>();
        // Registered always (it costs nothing until /openapi.json is requested); mapped only when Docs.Enabled.
        services.AddLatchkeyOpenApi();

        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, _ => { });
        services.AddAuthorizationBuilder()
            .AddPolicy(LatchkeyPolicies.Bearer, p => p.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(LatchkeyPolicies.Admin, p => p.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName).RequireAuthenticatedUser()
                .AddRequirements(new Latchkey.Endpoints.Admin.AdminAccessRequirement()));
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, Latchkey.Endpoints.Admin.AdminAccessHandler>();

        // Keeps /metrics and the other endpoints apart when Latchkey:Metrics:Urls gives /metrics a listener of its own.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Routing.MatcherPolicy, MetricsListenerPolicy>());

        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<SigningKeysHealthCheck>("signing_keys", tags: [HealthEndpoints.ReadyTag]);
        // Metrics go out at /metrics in the Prometheus text format (MapLatchkey maps it).
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(Latchkey.LatchkeyMetrics.MeterName)
            // No scrape cache: a scrape is cheap, and a cached one shows counters that have moved since.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    /// <summary>Only the stores, for tools (like the CLI) that work on the data without serving HTTP.</summary>
    public static IServiceCollection AddLatchkeyStorage(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => LatchkeyDatabase.Create(Options(sp)));
        services.TryAddSingleton<IUserStore, SqlUserStore>();
        services.TryAddSingleton<ISigningKeyStore, SqlSigningKeyStore>();
        services.TryAddSingleton<ILoginThrottleStore, SqlLoginThrottleStore>();
        services.TryAddSingleton<IClientStore, SqlClientStore>();
        services.TryAddSingleton<IRefreshTokenStore, SqlRefreshTokenStore>();
        services.TryAddSingleton<IRevocationStore, SqlRevocationStore>();
        services.TryAddSingleton<IAuditLog, SqlAuditLog>();
        services.TryAddSingleton<ISettingsStore, SqlSettingsStore>();
        return services;
    }

    /// <summary>
    /// The stores and the account, client and key administration on them: what the server and the CLI share. Changes that
    /// revoke something apply to this process's <see cref="Revocations"/> at once; in the CLI that copy is simply unused.
    /// </summary>
    internal static IServiceCollection AddLatchkeyAccounts(this IServiceCollection services)
    {
        services.AddLatchkeyStorage();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new PasswordHasher(Options(sp).PasswordHashing));
        services.TryAddSingleton<AuditTrail>();
        services.TryAddSingleton<MasterKeys>();
        services.TryAddSingleton<SigningKeyRing>();
        services.TryAddSingleton<Revocations>();
        services.TryAddSingleton<UserAccounts>();
        services.TryAddSingleton<ClientAccounts>();
        services.TryAddSingleton<KeyRotation>();
        return services;
    }

    private static Latchkey.LatchkeyOptions Options(IServiceProvider sp) => sp.GetRequiredService<IOptions<Latchkey.LatchkeyOptions>>().Value;
}
