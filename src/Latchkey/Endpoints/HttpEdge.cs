using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// The middleware in front of every request, installed by <c>AddLatchkey()</c> as a startup filter, so that both
/// <c>latchkey serve</c> and an app that embeds Latchkey get it (<c>MapLatchkey()</c> maps endpoints and cannot add
/// middleware): <see cref="SecurityHeaders"/> on every response.
/// </summary>
internal sealed class HttpEdge(IOptions<LatchkeyOptions> options) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        LatchkeyOptions o = options.Value;
        return app =>
        {
            app.Use(rest => new SecurityHeaders(rest, o).InvokeAsync);
            next(app);
        };
    }
}
