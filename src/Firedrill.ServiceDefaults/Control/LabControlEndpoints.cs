using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Firedrill.ServiceDefaults.Control;

/// <summary>
/// <c>GET/PUT /_lab/config</c>: how the lab switches faults and fixes. Mapped only in lab mode;
/// answers only loopback callers presenting the run's token, and 404 to anyone else so the
/// endpoint's existence is not revealed.
/// </summary>
public static class LabControlEndpoints
{
    public const string TokenHeader = "X-Lab-Token";
    public const string Path = "/_lab/config";

    public static IEndpointRouteBuilder MapLabControl(this IEndpointRouteBuilder app)
    {
        var lab = app.ServiceProvider.GetRequiredService<IOptions<LabOptions>>().Value;
        if (!lab.Enabled)
        {
            return app;
        }

        var group = app.MapGroup(Path)
            .ExcludeFromDescription()
            .AddEndpointFilter(async (context, next) =>
                IsAuthorized(context.HttpContext, lab.Token!) ? await next(context) : TypedResults.NotFound());

        group.MapGet("", (LabOverrides overrides) => TypedResults.Ok(overrides.Snapshot()));
        group.MapPut("", PutAsync);
        return app;
    }

    private static bool IsAuthorized(HttpContext context, string token)
    {
        if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote))
        {
            return false;
        }

        var presented = context.Request.Headers[TokenHeader].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(token));
    }

    private static async Task<IResult> PutAsync(
        HttpRequest request, LabOverrides overrides, IConfiguration configuration, IEnumerable<IConfigurationCheck> checks, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        Dictionary<string, string?> changes;
        try
        {
            changes = await ReadChangesAsync(request, cancellationToken);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid overrides",
                detail: $"The body must be a JSON object of configuration keys to string values (null removes a key): {ex.Message}");
        }

        // Validate first: the configuration as it would be is checked by every option's validators
        // (and the gateway's proxy rules) before anything changes, so no request ever reads an invalid value.
        using var candidate = Candidate(configuration, overrides, changes);
        var refused = new List<string>();
        foreach (var check in checks)
        {
            if (await check.CheckAsync(candidate, cancellationToken) is { } reason)
            {
                refused.Add(reason);
            }
        }

        if (refused.Count > 0)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid overrides", detail: string.Join(" ", refused.Distinct()));
        }

        var before = overrides.Snapshot();
        string[] failures;
        try
        {
            overrides.Apply(changes);
            // A last look at what the app now reads: a check the candidate could not foresee is rolled back.
            failures = checks.Select(check => check.CheckCurrent()).OfType<string>().ToArray();
        }
        catch (AggregateException ex)
        {
            // Change listeners re-read their options during the reload, and an invalid value throws there.
            failures = ex.Flatten().InnerExceptions.Select(inner => inner.Message).Distinct().ToArray();
        }

        if (failures.Length > 0)
        {
            overrides.Replace(before);
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid overrides",
                detail: string.Join(" ", failures));
        }

        LabLog.OverridesChanged(loggers.CreateLogger(typeof(LabControlEndpoints).FullName!), string.Join(", ", changes.Keys));
        return TypedResults.Ok(overrides.Snapshot());
    }

    /// <summary>
    /// The configuration as it would be with <paramref name="changes"/> applied: every other source
    /// as it is (read, never reloaded), then the overrides with the changes made, a null removing one.
    /// </summary>
    private static ConfigurationRoot Candidate(IConfiguration configuration, LabOverrides overrides, IReadOnlyDictionary<string, string?> changes)
    {
        var merged = new Dictionary<string, string?>(overrides.Snapshot().Select(pair => KeyValuePair.Create(pair.Key, (string?)pair.Value)), StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in changes)
        {
            if (value is null)
            {
                merged.Remove(key);
            }
            else
            {
                merged[key] = value;
            }
        }

        var others = (configuration as IConfigurationRoot)?.Providers.Where(provider => provider is not LabOverrides)
            .Select(provider => (IConfigurationProvider)new ReadOnlyProvider(provider)) ?? [];
        return new ConfigurationRoot([.. others, new MemoryConfigurationProvider(new MemoryConfigurationSource { InitialData = merged })]);
    }

    /// <summary>A live provider seen as it is: <see cref="ConfigurationRoot"/> loads its providers, which must not reload the app's.</summary>
    private sealed class ReadOnlyProvider(IConfigurationProvider inner) : IConfigurationProvider
    {
        public bool TryGet(string key, out string? value) => inner.TryGet(key, out value);

        public void Set(string key, string? value)
        {
        }

        public Microsoft.Extensions.Primitives.IChangeToken GetReloadToken() => inner.GetReloadToken();

        public void Load()
        {
        }

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => inner.GetChildKeys(earlierKeys, parentPath);
    }

    private static async Task<Dictionary<string, string?>> ReadChangesAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the body is not a JSON object.");
        }

        var changes = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (string.IsNullOrWhiteSpace(property.Name))
            {
                throw new FormatException("a key is empty.");
            }

            changes[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => property.Value.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                _ => throw new FormatException($"the value of '{property.Name}' is not a string, number, boolean or null."),
            };
        }

        return changes;
    }
}

internal static partial class LabLog
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Lab overrides changed: {Keys}")]
    public static partial void OverridesChanged(ILogger logger, string keys);
}
