using Firedrill.ServiceDefaults.Control;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Options;

public static class LabOptionsExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="section"/>, validates it at start
    /// with <typeparamref name="TValidator"/>, and lets <c>/_lab/config</c> reject overrides that
    /// would make it invalid. Read it through <c>IOptionsMonitor&lt;T&gt;</c> to see lab changes.
    /// </summary>
    public static OptionsBuilder<TOptions> AddRuntimeOptions<TOptions, TValidator>(this IServiceCollection services, string section)
        where TOptions : class, new()
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
        services.AddSingleton<IConfigurationCheck>(provider => new OptionsProbe<TOptions>(
            section, provider.GetServices<IValidateOptions<TOptions>>(), provider.GetRequiredService<IOptionsMonitor<TOptions>>()));
        return services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
    }
}
