using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Diagnostics;
using Latchkey.Endpoints;
using Latchkey.Grants;
using Latchkey.Hosting;
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

        services.AddLatchkeyCore();
        // The server's background work: the revocations sync, the purge of what nothing can use, key maintenance, SQLite checkpoints.
        services.AddHostedService<RevocationsSync>();
        services.AddSingleton<Housekeeping>();
        services.AddHostedService(sp => sp.GetRequiredService<Housekeeping>());
        services.AddSingleton<LatchkeyInitializer>();
        services.AddHostedService(sp => sp.GetRequiredService<LatchkeyInitializer>());
        services.AddHostedService<SigningKeyMaintenance>();
        services.AddHostedService<Latchkey.Storage.Sqlite.SqliteCheckpoints>();

        // The token endpoint's grants, and the one mint they share.
        services.AddSingleton<PasswordGrant>();
        services.AddSingleton<ClientCredentialsGrant>();
        services.AddSingleton<RefreshTokenGrant>();
        services.AddSingleton<AuthorizationCodeGrant>();
        services.AddSingleton<TokenMint>();

        // A database outage is a 503 with Retry-After at the HTTP edge, which learns which exceptions mean one from here.
        services.TryAddSingleton(sp =>
        {
            SqlDatabase database = sp.GetRequiredService<SqlDatabase>();
            return new DatabaseUnavailableFilter.Outages(database.Provider, database.IsUnavailable);
        });
        // Security headers, client addresses behind trusted proxies and the rate limit: middleware, so a startup filter.
        services.TryAddEnumerable(ServiceDescriptor.Transient<Microsoft.AspNetCore.Hosting.IStartupFilter, HttpEdge>());
        services.TryAddSingleton<RequestRateLimit>();
        services.AddCors();
        services.AddSingleton<Microsoft.AspNetCore.Cors.Infrastructure.ICorsPolicyProvider, BrowserCors>();
        // Registered always (it costs nothing until /openapi.json is requested); mapped only when Docs.Enabled.
        services.AddLatchkeyOpenApi();
        // The hosted pages' forms carry an antiforgery token matched against a cookie of its own (the double-submit pattern):
        // __Host- prefixed and Secure with an https issuer, like the session cookie.
        // Before anything registers Data Protection (authentication and antiforgery do, with TryAdd): keyed by the master key, so
        // the forms work across nodes and restarts. A host that configured Data Protection before AddLatchkey keeps its own.
        services.TryAddSingleton<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider, MasterKeyDataProtection>();
        services.AddAntiforgery();
        services.AddOptions<Microsoft.AspNetCore.Antiforgery.AntiforgeryOptions>().Configure<IOptions<Latchkey.LatchkeyOptions>>((antiforgery, latchkey) =>
        {
            bool https = Uri.TryCreate(latchkey.Value.Issuer, UriKind.Absolute, out Uri? issuer) && issuer.Scheme == Uri.UriSchemeHttps;
            antiforgery.Cookie.Name = https ? "__Host-latchkey-antiforgery" : "latchkey-antiforgery";
            antiforgery.Cookie.SecurePolicy = https ? Microsoft.AspNetCore.Http.CookieSecurePolicy.Always : Microsoft.AspNetCore.Http.CookieSecurePolicy.None;
            antiforgery.Cookie.Path = "/";
            antiforgery.FormFieldName = "__antiforgery";
            antiforgery.HeaderName = null;
            // The pages send X-Frame-Options: DENY and frame-ancestors 'none' themselves.
            antiforgery.SuppressXFrameOptionsHeader = true;
        });

        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, _ => { });
        services.AddAuthorizationBuilder()
            .AddPolicy(LatchkeyPolicies.Bearer, p => p.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(LatchkeyPolicies.Admin, p => p.AddAuthenticationSchemes(BearerAuthenticationHandler.SchemeName).RequireAuthenticatedUser()
                .AddRequirements(new Latchkey.Endpoints.Admin.AdminAccessRequirement()));
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, Latchkey.Endpoints.Admin.AdminAccessHandler>();
        WithoutDataProtectionKeyRing(services);

        // Keeps /metrics and the other endpoints apart when Latchkey:Metrics:Urls gives /metrics a listener of its own.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Routing.MatcherPolicy, MetricsListenerPolicy>());

        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [HealthEndpoints.ReadyTag])
            .AddCheck<SigningKeysHealthCheck>("signing_keys", tags: [HealthEndpoints.ReadyTag]);
        // Metrics go out at /metrics in the Prometheus text format (MapLatchkey maps it).
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(LatchkeyMetrics.MeterName)
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
        services.TryAddSingleton<ILoginSessionStore, SqlLoginSessionStore>();
        services.TryAddSingleton<IAuthorizationCodeStore, SqlAuthorizationCodeStore>();
        services.TryAddSingleton<IConsentStore, SqlConsentStore>();
        services.TryAddSingleton<ISecondFactorStore, SqlSecondFactorStore>();
        return services;
    }

    /// <summary>
    /// Everything Latchkey is but HTTP: the stores, accounts and login, clients, keys, tokens and their revocation, the audit
    /// trail and the metrics. What the server and the command line share: <see cref="AddLatchkey"/> builds on it, and the CLI
    /// uses it alone, on options it binds itself. A change that revokes something applies to this process's
    /// <see cref="Revocations"/> at once; in the CLI that copy is simply unused.
    /// </summary>
    internal static IServiceCollection AddLatchkeyCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        // Client records are cached briefly in front of the store (the CLI, one command per process, never reads one twice).
        services.TryAddSingleton<SqlClientStore>();
        services.TryAddSingleton(sp => new CachingClientStore(sp.GetRequiredService<SqlClientStore>(),
            sp.GetRequiredService<IOptions<Latchkey.LatchkeyOptions>>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Revocations>()));
        services.TryAddSingleton<IClientStore>(sp => sp.GetRequiredService<CachingClientStore>());
        services.AddLatchkeyStorage();
        services.TryAddSingleton(sp => new PasswordHasher(Options(sp).PasswordHashing));
        services.TryAddSingleton(sp => new PasswordHashingGate(Options(sp).PasswordHashing));
        services.TryAddSingleton<AuditTrail>();
        services.TryAddSingleton<MasterKeys>();
        services.TryAddSingleton<SigningKeyRing>();
        services.TryAddSingleton<KeyRotation>();
        services.TryAddSingleton<Revocations>();
        services.TryAddSingleton<RefreshTokenFamilies>();
        services.TryAddSingleton<AccessTokenIssuer>();
        services.TryAddSingleton<IdTokenIssuer>();
        services.TryAddSingleton<AuthorizationCodes>();
        services.TryAddSingleton<LoginSessions>();
        services.TryAddSingleton<Consents>();
        services.TryAddSingleton<SecondFactors>();
        services.TryAddSingleton<PendingSignIns>();
        services.TryAddSingleton<Passkeys>();
        services.TryAddSingleton<IdTokenHints>();
        services.TryAddSingleton<AccessTokenValidator>();
        services.TryAddSingleton<TokenRevocation>();
        services.TryAddSingleton<UserAccounts>();
        services.TryAddSingleton<LoginThrottle>();
        services.TryAddSingleton<PasswordLogin>();
        services.TryAddSingleton<ClientAccounts>();
        services.TryAddSingleton<ClientAuthenticator>();
        services.AddMetrics();
        services.TryAddSingleton(sp =>
        {
            SigningKeyRing keys = sp.GetRequiredService<SigningKeyRing>();
            return new LatchkeyMetrics(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), () => keys.CurrentKeyCreatedAt,
                sp.GetRequiredService<TimeProvider>());
        });
        return services;
    }

    /// <summary>
    /// With Latchkey's own Data Protection (<see cref="MasterKeyDataProtection"/>), the framework's key ring is never used, but its
    /// hosted service would still create a key at start and write it, unencrypted, under the user's home folder: it goes.
    /// </summary>
    private static void WithoutDataProtectionKeyRing(IServiceCollection services)
    {
        if (services.LastOrDefault(d => d.ServiceType == typeof(Microsoft.AspNetCore.DataProtection.IDataProtectionProvider))?.ImplementationType !=
            typeof(MasterKeyDataProtection))
            return;
        foreach (ServiceDescriptor keyRingStartup in services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) &&
                     d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService").ToArray())
            services.Remove(keyRingStartup);
    }

    private static Latchkey.LatchkeyOptions Options(IServiceProvider sp) => sp.GetRequiredService<IOptions<Latchkey.LatchkeyOptions>>().Value;
}
