using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// The generic host a silo runs in. Without <see cref="RlhfSiloOptions.DashboardPort"/>: a plain host, no web server.
/// With it: an ASP.NET Core web application (still one generic host, the silo inside it) whose only server is Kestrel
/// on exactly the dashboard's address and port, and whose only endpoints are the Orleans Dashboard's. Used by
/// <see cref="EmbeddedSilo"/> (<c>rlhf silo</c>) and src/Silo, so both serve the dashboard alike.
/// </summary>
public static class SiloHost
{
    /// <summary>The builder to configure the silo on (<c>UseOrleans(silo =&gt; silo.UseRlhfSilo(options, …))</c>), then
    /// to pass to <see cref="Build"/>. Validate <paramref name="options"/> first.</summary>
    /// <param name="args">Null: no defaults at all (no configuration sources, no logging providers, no Ctrl+C hook;
    /// the caller adds its own). Otherwise the .NET host's defaults, reading these command-line arguments.</param>
    public static IHostApplicationBuilder CreateBuilder(RlhfSiloOptions options, string[]? args)
    {
        if (options.DashboardEndpoint() is not { } endpoint)
        {
            return args is null
                ? new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true })
                : Host.CreateApplicationBuilder(args);
        }
        WebApplicationBuilder web;
        if (args is null)
        {
            // The empty builder brings nothing, not even a server or routing: exactly what the dashboard needs is added.
            web = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
            web.WebHost.UseKestrelCore();
            web.Services.AddRoutingCore();
        }
        else
        {
            web = WebApplication.CreateSlimBuilder(args);
        }
        // Listen() replaces any ASPNETCORE_URLS / --urls: the server listens on this endpoint and nowhere else.
        web.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(endpoint));
        web.Services.AddHostedService(services => new DashboardStartedLogger(
            services.GetRequiredService<IHostApplicationLifetime>(), endpoint,
            services.GetRequiredService<ILogger<DashboardStartedLogger>>()));
        return web;
    }

    /// <summary>Builds the host; with the dashboard, maps its page and data endpoints at the root.</summary>
    public static IHost Build(IHostApplicationBuilder builder)
    {
        switch (builder)
        {
            case WebApplicationBuilder web:
                var app = web.Build();
                app.MapOrleansDashboard();
                return app;
            case HostApplicationBuilder plain:
                return plain.Build();
            default:
                throw new ArgumentException($"not a builder from {nameof(CreateBuilder)}: {builder.GetType()}", nameof(builder));
        }
    }
}
