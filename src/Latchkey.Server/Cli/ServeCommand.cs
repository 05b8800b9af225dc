using System.CommandLine;
using Latchkey.Hosting;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace Latchkey.Server.Cli;

/// <summary><c>latchkey serve</c>: runs the token service on Kestrel.</summary>
internal static class ServeCommand
{
    public const string DefaultUrls = "http://localhost:5000";

    private static readonly Option<string?> Urls = new("--urls") { Description = $"Where to listen, ';'-separated (default {DefaultUrls})." };
    private static readonly Option<string?> Issuer = new("--issuer") { Description = "The public URL written into tokens as iss (default: the first --urls)." };
    private static readonly Option<string?> Algorithm = new("--algorithm") { Description = "The signing algorithm (default ES256): ES256/384/512, RS*, PS*, EdDSA, or HS* with Latchkey:HmacSecret." };
    private static readonly Option<string?> LogFormat = new("--log-format")
    {
        Description = "Console log format: text (default) or json, one JSON object a line with the request id (Latchkey:LogFormat; LATCHKEY__LOGFORMAT).",
    };

    /// <summary>The configuration key of <c>--log-format</c>. Read here, not by the library: logging is the host's choice.</summary>
    private const string LogFormatKey = "Latchkey:LogFormat";

    public static Command Create()
    {
        var command = new Command("serve", "Run the token service.") { Urls, Issuer, Algorithm, LogFormat };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder;
        string urls;
        LatchkeyOptions options;
        try
        {
            // No reload-on-change: the host would watch the working folder, and every database or log write under it (a data
            // folder in ./data) woke the watcher, at a cost bench/ measured under a refresh load. Settings are read at start.
            builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
            builder.Configuration.AddConfiguration(CommonOptions.Configuration(parse).Build());

            urls = parse.GetValue(Urls) ?? builder.Configuration["urls"] ?? builder.Configuration["ASPNETCORE_URLS"] ?? DefaultUrls;
            if (parse.GetValue(Algorithm) is { } algorithm)
                builder.Configuration["Latchkey:SigningAlgorithm"] = algorithm;
            if (parse.GetValue(LogFormat) is { } format)
                builder.Configuration[LogFormatKey] = format;
            if (parse.GetValue(Issuer) is { } issuer)
                builder.Configuration["Latchkey:Issuer"] = issuer;
            else if (string.IsNullOrEmpty(builder.Configuration["Latchkey:Issuer"]) && IssuerFromUrls(urls) is { } derived)
                builder.Configuration["Latchkey:Issuer"] = derived;

            options = builder.Configuration.GetSection(LatchkeyOptions.SectionName).Get<LatchkeyOptions>() ?? new LatchkeyOptions();
            // After the public URLs, so that the first address Kestrel reports (and the banner's curl line) is a public one.
            builder.WebHost.UseUrls(string.IsNullOrWhiteSpace(options.Metrics.Urls) ? urls : urls + ";" + options.Metrics.Urls);
        }
        catch (Exception e) when (CommonOptions.UnreadableConfiguration(e) is { } unreadable)
        {
            return CommonOptions.Fail("cannot start:\n  - " + unreadable);
        }

        // Check everything before starting, and say every problem at once.
        string logFormat = builder.Configuration[LogFormatKey] is { Length: > 0 } configured ? configured : "text";
        List<string> problems = [.. CheckUrls(urls), .. CheckLogFormat(logFormat), .. LatchkeyOptionsValidator.Problems(options, urls)];
        if (Endpoints.HttpEdge.FrameworkForwardedHeadersProblem(builder.Configuration) is { } forwardedHeaders)
            problems.Add(forwardedHeaders);
        if (problems.Count > 0)
            return CommonOptions.Fail("cannot start:\n" + string.Join("\n", problems.Select(p => "  - " + p)));

        // Framework request logs include paths and query strings, which careless clients fill with secrets.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (!logFormat.Equals("json", StringComparison.OrdinalIgnoreCase))
        {
            // While this logger is enabled at any level, ASP.NET Core gives every request a log scope and an Activity
            // (trace ids), which only the json format prints; its own lines are Information, filtered out above. The
            // text format prints no scopes, so it goes (a share of every client_credentials request's CPU, measured in bench/).
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }
        else
        {
            // One JSON object a line, for log shippers. Scopes carry ASP.NET Core's RequestId (and TraceId), which ties
            // each line to its request; the scope also holds the path, never the query string.
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }

        builder.Services.AddProblemDetails();
        builder.Services.AddLatchkey(builder.Configuration.GetSection(LatchkeyOptions.SectionName));
        // Latchkey's protected endpoints name their scheme (LatchkeyPolicies), so this host needs no default one. Without
        // the switch ASP.NET Core makes the only registered scheme the default and runs the bearer handler on every
        // request, /token and the JWKS included, building it by reflection each time under Native AOT.
        // With the log filter above, this is most of what client_credentials saves on CPU (bench/README.md).
        // The switch is process-wide: an app embedding AddLatchkey() decides this for itself.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);

        await using WebApplication app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapLatchkey();

        try
        {
            // Schema and signing keys first, before the host starts anything: a refusal here (a wrong master key, an
            // unreachable database) is then our message alone, not also the host's "Hosting failed to start" with a stack trace.
            await app.Services.GetRequiredService<LatchkeyInitializer>().StartAsync(cancellationToken);
            // StartAsync returns once ApplicationStarted has fired: Kestrel is bound and the keys are loaded.
            await app.StartAsync(cancellationToken);
            await StartupBanner.PrintAsync(app, asLogEvent: logFormat.Equals("json", StringComparison.OrdinalIgnoreCase), cancellationToken);
            await app.WaitForShutdownAsync(cancellationToken);
            return 0;
        }
        catch (LatchkeyStartupException e)
        {
            return CommonOptions.Fail("cannot start:\n  - " + e.Message.Replace("\n", "\n  - "));
        }
        catch (OptionsValidationException e)
        {
            return CommonOptions.Fail("cannot start:\n" + string.Join("\n", e.Failures.Select(f => "  - " + f)));
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            return CommonOptions.Fail($"cannot start:\n  - {e.Message} Choose another port with --urls.");
        }
    }

    /// <summary>Kestrel's wildcard hosts (*, +) are not URI hosts; they are checked as 0.0.0.0.</summary>
    private static Uri? ParseUrl(string url) =>
        Uri.TryCreate(url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0"), UriKind.Absolute, out Uri? uri) &&
        uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" ? uri : null;

    private static IEnumerable<string> CheckUrls(string urls)
    {
        foreach (string url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (ParseUrl(url) is null)
                yield return $"--urls '{url}' is not a listen URL. Use scheme://host:port, e.g. http://127.0.0.1:5000 or http://0.0.0.0:8080.";
        }
    }

    private static IEnumerable<string> CheckLogFormat(string logFormat)
    {
        if (!logFormat.Equals("text", StringComparison.OrdinalIgnoreCase) && !logFormat.Equals("json", StringComparison.OrdinalIgnoreCase))
            yield return $"--log-format '{logFormat}' is not a log format. Use text or json.";
    }

    /// <summary>The issuer when none is configured: the first listen URL, with a wildcard host read as localhost.</summary>
    private static string? IssuerFromUrls(string urls)
    {
        string first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        if (ParseUrl(first) is not { } uri || uri.Port == 0)
            return null;
        string host = uri.Host is "0.0.0.0" or "[::]" ? "localhost" : uri.Host;
        return $"{uri.Scheme}://{host}:{uri.Port}";
    }
}
