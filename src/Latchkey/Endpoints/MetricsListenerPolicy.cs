using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// With <see cref="MetricsOptions.Urls"/> set, splits the server in two by the port a connection arrived on: the metrics
/// listener serves <c>/metrics</c> and nothing else, the public listeners everything but <c>/metrics</c>. Either way the
/// other side's routes do not match, so they answer 404 as if they did not exist, before authentication or any handler
/// runs. A routing policy rather than a middleware, because <c>MapLatchkey()</c> maps routes and does not own the
/// pipeline. Without the setting it applies to no endpoint and costs nothing per request.
/// </summary>
internal sealed class MetricsListenerPolicy(IOptions<LatchkeyOptions> options) : MatcherPolicy, IEndpointSelectorPolicy
{
    private readonly MetricsListener? _listener = MetricsListener.Parse(options.Value.Metrics.Urls);

    public override int Order => 0;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => _listener is not null && endpoints.Count > 0;

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        bool onMetricsListener = _listener!.Accepts(httpContext.Connection);
        for (int i = 0; i < candidates.Count; i++)
        {
            bool metricsEndpoint = candidates[i].Endpoint.Metadata.GetMetadata<MetricsListener.MetricsEndpointMetadata>() is not null;
            if (metricsEndpoint != onMetricsListener)
                candidates.SetValidity(i, false);
        }

        return Task.CompletedTask;
    }
}
